#!/bin/bash
# The router container's entrypoint: check the config, make the prompts its
# lines need and hand them to Asterisk, apply the migrations, run the router.
#
#   callrouter-entrypoint [CONFIG]   (default /etc/callrouter/callrouter.toml)
#
# Started as root only to own the volumes; everything else runs as the
# callrouter user.
set -euo pipefail

CONFIG=${1:-/etc/callrouter/callrouter.toml}
APP=/opt/callrouter
# Made by devstack/prompts.py (the dev stack's prompt builder), cached by hash.
AUDIO=$APP/prompts/audio
# The callrouter-audio volume: Asterisk mounts it at the same path, so the
# config's prompts.directory (/usr/share/callrouter/prompts) and the
# dialplan's fallback prompt name the same files in both containers.
SHARED=/usr/share/callrouter
SPOOL=${CALLROUTER_SPOOL_DIR:-/var/spool/callrouter}
MIGRATE_TRIES=${CALLROUTER_MIGRATE_TRIES:-10}

log() {
    echo "callrouter-entrypoint: $*" >&2
}

die() {
    log "$*"
    exit 2
}

if [[ $(id -u) == 0 ]]; then
    mkdir -p "$SHARED" "$SPOOL"
    chown -R callrouter:callrouter "$SHARED" "$SPOOL"
    exec setpriv --reuid=callrouter --regid=callrouter --init-groups "$0" "$@"
fi

for name in CALLROUTER_ARI_PASSWORD CALLROUTER_DATABASE_PASSWORD CALLROUTER_ADMIN_TOKEN; do
    if [[ -z ${!name:-} ]]; then
        die "$name is not set (see docker/.env.example)"
    fi
    if [[ ${!name} == change-me ]]; then
        die "$name is still the placeholder change-me: set it in docker/.env"
    fi
done

# publish SOURCE TARGET: replace TARGET in one rename when it differs, so
# Asterisk never plays a half-written file.
publish() {
    if ! cmp -s "$1" "$2"; then
        cp "$1" "$2.tmp.$$"
        mv -f "$2.tmp.$$" "$2"
    fi
}

# Prompts to $SHARED/prompts/<language>/, music on hold to $SHARED/moh/
# (Asterisk's /usr/share/asterisk/moh links there).
publish_audio() {
    local dir name target wav
    for dir in "$AUDIO"/*/; do
        name=$(basename "$dir")
        if [[ $name == moh ]]; then
            target=$SHARED/moh
        else
            target=$SHARED/prompts/$name
        fi
        mkdir -p "$target"
        for wav in "$dir"*.wav; do
            if [[ -f $wav ]]; then
                publish "$wav" "$target/${wav##*/}"
            fi
        done
    done
}

callrouter check-config "$CONFIG"

# The image holds the audio for callrouter.example.toml; this makes only what
# the mounted config adds (a greeting per line) or changes.
(cd "$APP" && python -m devstack.prompts "$CONFIG")
publish_audio

# Safe to repeat. If PostgreSQL stays away the router starts anyway: calls
# never wait on the database, records spool to $SPOOL, and the next start
# applies what is missing.
for ((try = 1; ; try++)); do
    if callrouter migrate --config "$CONFIG"; then
        break
    fi
    if ((try >= MIGRATE_TRIES)); then
        log "migrations not applied after $try tries; starting the router anyway"
        break
    fi
    sleep 3
done

exec callrouter run --config "$CONFIG"
