#!/bin/sh
# Trim what the image does not use, just before Buildroot packs the root filesystem.
#
# Runs as BR2_ROOTFS_POST_FAKEROOT_SCRIPT, i.e. on the copy of output/target that becomes
# rootfs.tar (after the overlay is copied): output/target itself stays complete, so after an
# httpd.conf change an incremental build still finds every module it may now load.
#
# 1. Every image: drops the compiler runtime libraries that no ELF file in the image needs.
#    Buildroot copies them from an external toolchain whatever the packages use (the Bootlin
#    toolchains have C++ and OpenMP, so libstdc++ and libgomp come along). glibc never
#    dlopens them; libgcc_s, which it does dlopen, is not touched.
# 2. Images with /etc/apache2/httpd.conf: keeps only the httpd modules that a LoadModule line
#    names, and drops Apache's extras (stock config copies, icons, error pages, CGI samples,
#    support tools) unless httpd.conf mentions them.
set -eu

TARGET_DIR=${1:?usage: $0 TARGET_DIR}
READELF=${READELF:-readelf}
RUNTIME_SONAMES="libstdc++.so.6 libgomp.so.1 libatomic.so.1"

if ! command -v "$READELF" >/dev/null 2>&1; then
    echo "post-fakeroot: $READELF not found; install binutils (or set READELF) so unused libraries can be told apart" >&2
    exit 1
fi

# Sonames that some ELF file of the image names in DT_NEEDED (readelf skips non-ELF files).
NEEDED=$(find "$TARGET_DIR" -type f -exec "$READELF" -d {} + 2>/dev/null |
    sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | sort -u)

dropped=""
for soname in $RUNTIME_SONAMES; do
    printf '%s\n' "$NEEDED" | grep -qxF -- "$soname" && continue
    [ -n "$(find "$TARGET_DIR" -name "$soname*" -print)" ] || continue
    find "$TARGET_DIR" -name "$soname*" -delete
    dropped="$dropped $soname"
done
echo "post-fakeroot: removed toolchain runtime libraries nothing needs:${dropped:- none}"

CONF_DIR=$TARGET_DIR/etc/apache2
CONF=$CONF_DIR/httpd.conf
[ -f "$CONF" ] || exit 0

# httpd.conf without comments: what the server will actually read.
ACTIVE=$(sed -e 's/^[[:space:]]*#.*//' "$CONF")

# Whole words only: 'ab' must not match 'Table'.
mentions() {
    printf '%s\n' "$ACTIVE" | grep -qwF -- "$1"
}

drop_unless_mentioned() {
    word=$1
    shift
    if ! mentions "$word"; then
        for path in "$@"; do
            rm -rf "$TARGET_DIR$path"
        done
    fi
}

rm -rf "$CONF_DIR/original"
drop_unless_mentioned extra /etc/apache2/extra
drop_unless_mentioned magic /etc/apache2/magic
drop_unless_mentioned mime.types /etc/apache2/mime.types
drop_unless_mentioned icons /usr/icons
drop_unless_mentioned error /usr/error
drop_unless_mentioned cgi-bin /usr/cgi-bin
for tool in ab apxs checkgid dbmmanage envvars-std fcgistarter htcacheclean htdbm htdigest htpasswd \
    httxt2dbm logresolve rotatelogs; do
    drop_unless_mentioned "$tool" "/usr/bin/$tool"
done

# Module file names (without directories) named by LoadModule in the configuration that stays.
LOADED=$(find "$CONF_DIR" -type f -name '*.conf' -exec awk '
    tolower($1) == "loadmodule" && NF >= 3 { path = $3; gsub(/"/, "", path); sub(/.*\//, "", path); print path }
' {} +)

kept=0
removed=0
if [ -d "$TARGET_DIR/usr/modules" ]; then
    for module in "$TARGET_DIR"/usr/modules/*.so; do
        [ -e "$module" ] || continue
        if printf '%s\n' "$LOADED" | grep -qxF -- "${module##*/}"; then
            kept=$((kept + 1))
        else
            rm -f "$module"
            removed=$((removed + 1))
        fi
    done
fi
echo "post-fakeroot: kept $kept httpd modules that httpd.conf loads, removed $removed"
