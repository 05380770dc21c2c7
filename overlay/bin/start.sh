#!/bin/sh
# PID 1 of apacheinit (the recipe's /bin/start.sh, done right).
# - Starts httpd through its init script, in the foreground, as a child of this shell, so
#   httpd logs reach the container's stdout/stderr and its exit ends the container.
# - With a TTY (docker run -it) it also gives the recipe's interactive shell; leaving the
#   shell stops httpd. Detached, it keeps serving.
# - TERM/INT (docker stop, Ctrl-C) stop httpd gracefully and exit 0 in well under a second.
PIDFILE=/tmp/httpd.pid
rm -f "$PIDFILE"

httpd_pid=
shell_pid=

stop() {
    trap '' TERM INT
    # A signal that lands before httpd wrote its pid file waits for it (up to 2 s).
    tries=0
    while [ ! -s "$PIDFILE" ] && kill -0 "$httpd_pid" 2>/dev/null && [ "$tries" -lt 100 ]; do
        sleep 0.02
        tries=$((tries + 1))
    done
    kill -TERM "$(cat "$PIDFILE" 2>/dev/null || echo "$httpd_pid")" 2>/dev/null
    [ -n "$shell_pid" ] && kill -HUP "$shell_pid" 2>/dev/null
    wait "$httpd_pid"
    exit 0
}
trap stop TERM INT

/etc/init.d/S50apache -k start -DFOREGROUND &
httpd_pid=$!

if [ -t 0 ] && [ -t 1 ]; then
    # In the background so a TERM reaches stop() while the shell runs. A background job's
    # stdin is /dev/null, so hand it the TTY through fd 3.
    exec 3<&0
    /bin/sh -i <&3 3<&- &
    shell_pid=$!
    wait "$shell_pid"
    shell_pid=
    stop
fi

wait "$httpd_pid"
status=$?
echo "start.sh: httpd exited with status $status" >&2
exit "$status"
