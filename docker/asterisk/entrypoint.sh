#!/bin/bash
# The Asterisk container's entrypoint: write /etc/asterisk from the
# repository's asterisk-conf/*.conf and dialplans/*.conf (copied unchanged into
# the image), filling their {{NAME}} placeholders from environment variables
# of the same names: the names devstack/asterisk_files.py values_for() fills
# for the dev stack. pjsip_agents.conf gets pjsip_agent.conf.in once per agent.
# Then run the command (asterisk -f).
#
#   entrypoint.sh COMMAND...   render, prepare Asterisk's folders, exec COMMAND
#   entrypoint.sh render       render only (tests/packaging/ uses this)
#
# Environment:
#   SIP_BIND MEDIA_ADDRESS TRUNK_MATCH TRUNK_CONTACT ARI_BIND ARI_PORT ARI_USER
#   ARI_PASSWORD RTP_START RTP_END FALLBACK_DIAL FALLBACK_CONTACT
#                    required, not empty
#   AGENTS           agent ids, whitespace-separated; "id=sip:uri" gives the
#                    agent a fixed contact, a bare "id" registers
#   AGENT_PASSWORDS  "id=password" for every agent, whitespace-separated
#   CALLROUTER_ASTERISK_TEMPLATES  holds asterisk-conf/ and dialplans/
#                                  (default /opt/callrouter)
#   CALLROUTER_ASTERISK_ETC        where the files go (default /etc/asterisk)
# A value holding a line break, or still "change-me", is refused. ";" starts a
# comment in Asterisk's files, so it is written as "\;".
set -euo pipefail

# Every placeholder of asterisk-conf/*.conf and dialplans/*.conf.
PLACEHOLDERS=(
    SIP_BIND MEDIA_ADDRESS TRUNK_MATCH TRUNK_CONTACT ARI_BIND ARI_PORT ARI_USER ARI_PASSWORD
    RTP_START RTP_END FALLBACK_DIAL FALLBACK_CONTACT
)
# Filled per agent in asterisk-conf/pjsip_agent.conf.in.
AGENT_PLACEHOLDERS=(AGENT_ID AGENT_CONTACT AGENT_PASSWORD)

TEMPLATES=${CALLROUTER_ASTERISK_TEMPLATES:-/opt/callrouter}
ETC=${CALLROUTER_ASTERISK_ETC:-/etc/asterisk}
PLACEHOLDER_RE='[{][{]([A-Z0-9_]+)[}][}]'
AGENT_ID_RE='^[A-Za-z0-9_.-]+$'

declare -A VALUES=()
STAGING=""

die() {
    echo "callrouter-asterisk: $*" >&2
    exit 1
}

cleanup() {
    if [[ -n $STAGING ]]; then
        rm -rf "$STAGING"
    fi
}
trap cleanup EXIT

# set_value NAME VALUE: check one value and keep it, escaped for Asterisk.
set_value() {
    local value=$2 escaped='\;'
    if [[ $value == *$'\n'* || $value == *$'\r'* ]]; then
        die "$1 holds a line break"
    fi
    if [[ $value == change-me ]]; then
        die "$1 is still the placeholder change-me: set it in docker/.env"
    fi
    VALUES[$1]=${value//";"/"$escaped"}
}

# render FILE: print FILE with each {{NAME}} replaced by VALUES[NAME], in one
# pass (an inserted value is never searched again), as devstack's render().
render() {
    local text="" out="" match key
    IFS= read -r -d '' text <"$1" || true
    while [[ $text =~ $PLACEHOLDER_RE ]]; do
        match=${BASH_REMATCH[0]}
        key=${BASH_REMATCH[1]}
        if [[ ! -v VALUES[$key] ]]; then
            die "${1#"$TEMPLATES"/}: no value for placeholder {{$key}}"
        fi
        out+=${text%%"$match"*}${VALUES[$key]}
        text=${text#*"$match"}
    done
    printf '%s' "$out$text"
}

# agents: print pjsip_agent.conf.in filled for each agent of AGENTS, the
# blocks separated by one empty line, as devstack's agent_sections().
agents() {
    local template=$TEMPLATES/asterisk-conf/pjsip_agent.conf.in entry id first=1
    local -a agent_entries password_entries
    local -A passwords=() seen=()
    set -f
    # shellcheck disable=SC2206  # whitespace-separated lists, globbing off
    agent_entries=(${AGENTS:-})
    # shellcheck disable=SC2206
    password_entries=(${AGENT_PASSWORDS:-})
    set +f
    for entry in "${password_entries[@]}"; do
        if [[ $entry != ?*=?* ]]; then
            die "AGENT_PASSWORDS: every entry is id=password"
        fi
        passwords[${entry%%=*}]=${entry#*=}
    done
    for entry in "${agent_entries[@]}"; do
        id=${entry%%=*}
        if [[ ! $id =~ $AGENT_ID_RE ]]; then
            die "AGENTS: agent id '$id' may hold only letters, digits, '_', '.' and '-'"
        fi
        if [[ -v seen[$id] ]]; then
            die "AGENTS: agent $id is listed twice"
        fi
        if [[ ! -v passwords[$id] ]]; then
            die "AGENTS: agent $id has no password in AGENT_PASSWORDS"
        fi
        seen[$id]=1
        set_value AGENT_ID "$id"
        if [[ $entry == *=* ]]; then
            set_value AGENT_CONTACT "${entry#*=}"
        else
            set_value AGENT_CONTACT ""
        fi
        set_value AGENT_PASSWORD "${passwords[$id]}"
        if ((first)); then
            first=0
        else
            printf '\n'
        fi
        render "$template"
    done
    for id in "${!passwords[@]}"; do
        if [[ ! -v seen[$id] ]]; then
            die "AGENT_PASSWORDS: $id is not in AGENTS"
        fi
    done
}

render_all() {
    local name folder file count=0
    for name in "${PLACEHOLDERS[@]}"; do
        if [[ -z ${!name:-} ]]; then
            die "$name is not set (see docker/.env.example)"
        fi
        set_value "$name" "${!name}"
    done
    STAGING=$(mktemp -d)
    for folder in asterisk-conf dialplans; do
        for file in "$TEMPLATES/$folder"/*.conf; do
            if [[ ! -f $file ]]; then
                die "no $folder/*.conf under $TEMPLATES"
            fi
            render "$file" >"$STAGING/${file##*/}"
            count=$((count + 1))
        done
    done
    agents >"$STAGING/pjsip_agents.conf"
    mkdir -p "$ETC"
    find "$ETC" -mindepth 1 -delete
    cp "$STAGING"/* "$ETC"/
    echo "callrouter-asterisk: wrote $count files and pjsip_agents.conf to $ETC" >&2
}

# Asterisk runs as the asterisk user (asterisk.conf): it must own its folders.
prepare() {
    local dirs=(/run/asterisk /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/cache/asterisk)
    mkdir -p "${dirs[@]}"
    chown -R asterisk:asterisk "$ETC" "${dirs[@]}"
    chmod 0750 "$ETC"
    chmod 0640 "$ETC"/*
}

main() {
    if [[ ${1:-} == render ]]; then
        render_all
        return
    fi
    render_all
    if [[ $(id -u) == 0 ]]; then
        prepare
    fi
    cleanup
    STAGING=""
    exec "$@"
}

main "$@"
