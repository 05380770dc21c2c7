#!/bin/sh
# PID 1: busybox httpd in the foreground on 8080; TERM and INT stop it at once.
httpd -f -p 8080 -h /www &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; exit 0' TERM INT
wait "$server"
