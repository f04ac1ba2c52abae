#!/bin/sh
# Installs the pgship binary from a GitHub release (or a mirror of one).
#
#   curl -fsSL https://github.com/pgship/pgship/releases/latest/download/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- --version 1.2.0 --run
#
# It picks the build for this machine (Linux or macOS; x64 or arm64; glibc or
# musl; x64 CPUs without AVX2 get the "baseline" build), downloads it (as .xz
# when xz is installed, else .gz, else uncompressed) and the release's
# SHA256SUMS, refuses to install anything whose checksum does not match, and installs it atomically into ~/.local/bin (root: /usr/local/bin).
# It never edits shell start-up files unless given --modify-path.
# Run with --help for the flags and environment variables.
#
# POSIX sh (dash, bash, busybox ash, macOS /bin/sh). Everything runs from the
# function called on the last line, so a download cut short runs nothing.

# Rebranding: an app that ships its own database manager (package.json
# "pgship": {"binaryName": "myapp-db", ...}) changes these three lines; the release
# workflow stamps them from package.json into the install.sh it publishes.
# Release assets are named "$BINARY_NAME-<os>-<arch>[-musl][-baseline]", each
# also as .gz and .xz.
BINARY_NAME="pgship"
DISPLAY_NAME="pgship"
RELEASE_REPOSITORY="pgship/pgship"

# ---------------------------------------------------------------------------
# Helpers. POSIX sh has no "local": helper variables carry a prefix naming the
# helper (_fetch_*, _sum_*, ...) so they cannot collide with the main flow's.

say() {
    printf '%s install: %s\n' "$BINARY_NAME" "$*" >&2
}

die() {
    printf '%s install: error: %s\n' "$BINARY_NAME" "$*" >&2
    exit 1
}

usage_error() {
    printf '%s install: error: %s\n' "$BINARY_NAME" "$*" >&2
    printf "Run 'sh install.sh --help' for the flags.\n" >&2
    exit 2
}

usage() {
    cat <<EOF
Install $DISPLAY_NAME ($BINARY_NAME) from its GitHub releases.

Usage: sh install.sh [flags] [VERSION]
       curl -fsSL https://github.com/$RELEASE_REPOSITORY/releases/latest/download/install.sh | sh -s -- [flags]

Flags:
  --version V      install version V (e.g. 1.2.0 or v1.2.0; default: the latest release)
  --dir DIR        install into DIR (default: ~/.local/bin, or /usr/local/bin as root)
  --run            start $BINARY_NAME (the setup wizard) when installed, reading from the terminal
  --modify-path    add DIR to PATH in your shell's start-up file if it is not on PATH
  --dry-run        print what would be downloaded and where it would go; change nothing
  -h, --help       show this help

Environment:
  PGSHIP_VERSION        version to install (like --version)
  PGSHIP_INSTALL_DIR    install directory (like --dir)
  PGSHIP_BASE_URL       directory holding one release's assets (a mirror), used as is:
                        \$PGSHIP_BASE_URL/$BINARY_NAME-linux-x64, \$PGSHIP_BASE_URL/SHA256SUMS
  PGSHIP_RELEASES_URL   root laid out like GitHub releases (default
                        https://github.com/$RELEASE_REPOSITORY/releases): assets are read from
                        <root>/download/v<version>/ or <root>/latest/download/
  PGSHIP_PLATFORM       skip detection and install this build, e.g. linux-x64-baseline

Builds: linux-x64, linux-x64-baseline, linux-x64-musl, linux-x64-musl-baseline,
linux-arm64, linux-arm64-musl, darwin-x64, darwin-arm64.
Needs curl or wget, and sha256sum or shasum. Exit codes: 0 ok, 1 error, 2 usage.
Downloads the .xz build when xz is installed, else the .gz one, else the
uncompressed binary; checks the checksum of the download and of the binary.
A progress bar is drawn when stderr is a terminal.
EOF
}

# fetch URL FILE: downloads URL into FILE. Returns 0 on success; otherwise 1
# with FETCH_STATUS set to the HTTP status (empty when no server answered) and
# FETCH_ERROR to the downloader's own message. With FETCH_PROGRESS=1 and stderr
# a terminal, the downloader draws its progress bar there (and prints its own
# error message there too); otherwise it is quiet, so cron and CI logs stay clean.
fetch() {
    FETCH_STATUS=""
    FETCH_ERROR=""
    _fetch_bar=""
    if [ "${FETCH_PROGRESS:-}" = 1 ] && [ -t 2 ]; then _fetch_bar=1; fi
    if command -v curl >/dev/null 2>&1; then
        if [ -n "$_fetch_bar" ]; then
            if _fetch_code=$(curl --progress-bar -S -L --retry 2 --connect-timeout 30 \
                -w '%{http_code}' -o "$2" "$1"); then
                if [ "$_fetch_code" = 200 ]; then return 0; fi
                FETCH_STATUS=$_fetch_code
            else
                FETCH_ERROR="curl failed (its message is above)"
            fi
            return 1
        fi
        if _fetch_code=$(curl -s -S -L --retry 2 --connect-timeout 30 \
            -w '%{http_code}' -o "$2" "$1" 2>"$2.err"); then
            if [ "$_fetch_code" = 200 ]; then
                rm -f "$2.err"
                return 0
            fi
            FETCH_STATUS=$_fetch_code
        else
            FETCH_ERROR=$(tail -n 1 "$2.err" 2>/dev/null || true)
        fi
    elif command -v wget >/dev/null 2>&1; then
        if [ -n "$_fetch_bar" ]; then
            # GNU wget: just the bar (and a line on error); older GNU wget: the
            # bar and its usual chatter; busybox wget draws its bar unless told -q.
            _fetch_opts=""
            if wget --help 2>&1 | grep -q -- --show-progress; then
                _fetch_opts="-nv --show-progress --progress=bar:force"
            elif wget --help 2>&1 | grep -q -- --progress; then
                _fetch_opts="--progress=bar:force"
            fi
            # shellcheck disable=SC2086 # the options are split on purpose
            if wget $_fetch_opts -O "$2" "$1"; then return 0; fi
            FETCH_ERROR="wget failed (its message is above)"
            return 1
        fi
        # -S prints the response headers (GNU wget and busybox wget alike): the
        # last status line is the answer after redirects.
        if wget -q -S -O "$2" "$1" 2>"$2.err"; then
            rm -f "$2.err"
            return 0
        fi
        FETCH_STATUS=$(sed -n 's/^.*HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*$/\1/p' "$2.err" | tail -n 1)
        if [ -z "$FETCH_STATUS" ]; then
            FETCH_ERROR=$(tail -n 1 "$2.err" 2>/dev/null || true)
        fi
    else
        die "neither curl nor wget is installed: install one of them (e.g. 'apt-get install curl', 'apk add curl') and run this again"
    fi
    rm -f "$2.err"
    return 1
}

# describe_fetch_failure URL WHAT: the message for a failed fetch.
describe_fetch_failure() {
    if [ -n "$FETCH_STATUS" ]; then
        printf '%s not found at %s (HTTP %s)' "$2" "$1" "$FETCH_STATUS"
    else
        printf 'could not download %s from %s: %s' "$2" "$1" "${FETCH_ERROR:-no answer}"
    fi
}

# sha256_tool: sets SHA256_TOOL to sha256sum or shasum, or refuses.
sha256_tool() {
    if command -v sha256sum >/dev/null 2>&1; then
        SHA256_TOOL="sha256sum"
    elif command -v shasum >/dev/null 2>&1; then
        SHA256_TOOL="shasum"
    else
        die "found neither sha256sum nor shasum, so the download cannot be verified; refusing to install. Install coreutils (or perl's shasum) and run this again"
    fi
}

# sha256_of FILE: prints FILE's sha256 in lower-case hex.
sha256_of() {
    if [ "$SHA256_TOOL" = sha256sum ]; then
        _sum_out=$(sha256sum "$1") || die "sha256sum failed on $1"
    else
        _sum_out=$(shasum -a 256 "$1") || die "shasum -a 256 failed on $1"
    fi
    _sum_hex=$(printf '%s\n' "$_sum_out" | cut -d ' ' -f 1 | tr 'A-F' 'a-f')
    case $_sum_hex in
        *[!0-9a-f]* | "") die "$SHA256_TOOL printed something that is not a sha256: $_sum_out" ;;
    esac
    [ "${#_sum_hex}" -eq 64 ] || die "$SHA256_TOOL printed something that is not a sha256: $_sum_out"
    printf '%s\n' "$_sum_hex"
}

# expected_sha256 SUMSFILE NAME: prints NAME's checksum from a sha256sum-format
# file ("<hex>  <name>" or "<hex> *<name>"), or nothing.
expected_sha256() {
    _exp_cr=$(printf '\r')
    while read -r _exp_hex _exp_name || [ -n "$_exp_hex" ]; do
        _exp_name=${_exp_name%"$_exp_cr"}
        _exp_name=${_exp_name#\*}
        if [ "$_exp_name" = "$2" ]; then
            printf '%s\n' "$_exp_hex" | tr 'A-F' 'a-f'
            return 0
        fi
    done <"$1"
    return 0
}

# detect_platform: sets PLATFORM to <os>-<arch>[-musl][-baseline], or refuses.
detect_platform() {
    _det_s=$(uname -s 2>/dev/null || echo unknown)
    _det_m=$(uname -m 2>/dev/null || echo unknown)
    case $_det_s in
        Linux) _det_os=linux ;;
        Darwin) _det_os=darwin ;;
        MINGW* | MSYS* | CYGWIN* | Windows_NT)
            die "Windows is not supported: run this installer inside WSL (Windows Subsystem for Linux)" ;;
        *) die "unsupported operating system: $_det_s ($DISPLAY_NAME has builds for Linux and macOS)" ;;
    esac
    case $_det_m in
        x86_64 | amd64 | x64) _det_arch=x64 ;;
        aarch64 | arm64) _det_arch=arm64 ;;
        *) die "unsupported CPU architecture: $_det_m on $_det_s ($DISPLAY_NAME has builds for x64 and arm64)" ;;
    esac
    PLATFORM="$_det_os-$_det_arch"
    # PGSHIP_SYSROOT (a test hook) stands in for / when reading CPU flags and
    # looking for the musl loader.
    _det_root=${PGSHIP_SYSROOT:-}
    if [ "$_det_os" = darwin ]; then
        # A shell running under Rosetta 2 on Apple silicon reports x86_64: take the native build.
        if [ "$_det_arch" = x64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
            PLATFORM="darwin-arm64"
        fi
        return 0
    fi
    if command -v getconf >/dev/null 2>&1 && [ "$(getconf LONG_BIT 2>/dev/null || true)" = 32 ]; then
        die "this is a 32-bit system on a 64-bit CPU ($_det_m): $DISPLAY_NAME needs a 64-bit operating system"
    fi
    _det_musl=""
    for _det_f in "$_det_root"/lib/ld-musl-*; do
        if [ -e "$_det_f" ]; then _det_musl=1; fi
    done
    if [ -z "$_det_musl" ] && command -v ldd >/dev/null 2>&1 && ldd --version 2>&1 | grep -qi musl; then
        _det_musl=1
    fi
    if [ -n "$_det_musl" ]; then PLATFORM="$PLATFORM-musl"; fi
    if [ "$_det_arch" = x64 ]; then
        # The default x64 build needs AVX2 (Haswell, 2013, and later). Without it,
        # or when the CPU cannot be read, take the baseline build: slower, runs anywhere.
        if ! grep -qw avx2 "$_det_root/proc/cpuinfo" 2>/dev/null; then
            PLATFORM="$PLATFORM-baseline"
        fi
    fi
}

# path_hint DIR: tells the user how to put DIR on PATH, or does it (--modify-path).
path_hint() {
    case ":${PATH:-}:" in
        *":$1:"*)
            _hint_found=$(command -v "$BINARY_NAME" 2>/dev/null || true)
            if [ -n "$_hint_found" ] && [ "$_hint_found" != "$1/$BINARY_NAME" ]; then
                say "note: $_hint_found comes before $1 on your PATH, so '$BINARY_NAME' runs that one: remove it or run $1/$BINARY_NAME"
            fi
            return 0 ;;
    esac
    if [ -z "$MODIFY_PATH" ]; then
        say "$1 is not on your PATH. Add it with:"
        printf "\n    export PATH=\"%s:\$PATH\"\n\n" "$1" >&2
        say "(put that line in ~/.profile or your shell's rc file, or run this installer again with --modify-path)"
        return 0
    fi
    case $1 in
        *[\"\$\`\\]*)
            say "not editing start-up files for a directory whose name holds quotes, \$, \` or \\: add $1 to PATH yourself"
            return 0 ;;
    esac
    [ -n "${HOME:-}" ] || die "HOME is not set, so there is no start-up file to edit: add $1 to PATH yourself"
    _hint_line="export PATH=\"$1:\$PATH\""
    case ${SHELL:-} in
        */zsh) _hint_rc="${ZDOTDIR:-$HOME}/.zshrc" ;;
        */bash)
            if [ "$(uname -s 2>/dev/null || true)" = Darwin ]; then
                _hint_rc="$HOME/.bash_profile"
            else
                _hint_rc="$HOME/.bashrc"
            fi ;;
        */fish)
            _hint_rc="${XDG_CONFIG_HOME:-$HOME/.config}/fish/conf.d/$BINARY_NAME.fish"
            _hint_line="fish_add_path \"$1\"" ;;
        *) _hint_rc="$HOME/.profile" ;;
    esac
    if [ -f "$_hint_rc" ] && grep -Fqx "$_hint_line" "$_hint_rc"; then
        say "$_hint_rc already adds $1 to PATH: open a new terminal to use $BINARY_NAME"
        return 0
    fi
    mkdir -p "$(dirname "$_hint_rc")" || die "could not create the directory of $_hint_rc"
    printf '\n# added by the %s installer\n%s\n' "$DISPLAY_NAME" "$_hint_line" >>"$_hint_rc" ||
        die "could not write $_hint_rc: add $1 to PATH yourself"
    say "added $1 to PATH in $_hint_rc: open a new terminal (or run: . \"$_hint_rc\") to use $BINARY_NAME"
}

cleanup() {
    if [ -n "${STAGED:-}" ]; then rm -f "$STAGED"; fi
    if [ -n "${WORK:-}" ]; then rm -rf "$WORK"; fi
}

# ---------------------------------------------------------------------------

install_main() {
    set -eu
    VERSION=${PGSHIP_VERSION:-}
    DIR=${PGSHIP_INSTALL_DIR:-}
    RUN=""
    MODIFY_PATH=""
    DRY_RUN=""
    STAGED=""
    WORK=""
    _positional=""
    while [ $# -gt 0 ]; do
        case $1 in
            -h | --help) usage; exit 0 ;;
            --version)
                [ $# -ge 2 ] || usage_error "--version needs a value, e.g. --version 1.2.0"
                VERSION=$2; shift ;;
            --version=*) VERSION=${1#--version=} ;;
            --dir)
                [ $# -ge 2 ] || usage_error "--dir needs a value, e.g. --dir /opt/bin"
                DIR=$2; shift ;;
            --dir=*) DIR=${1#--dir=} ;;
            --run) RUN=1 ;;
            --modify-path) MODIFY_PATH=1 ;;
            --dry-run) DRY_RUN=1 ;;
            -*) usage_error "unknown flag: $1" ;;
            *)
                [ -z "$_positional" ] || usage_error "unexpected argument: $1 (only one version may be given)"
                _positional=1
                VERSION=$1 ;;
        esac
        shift
    done

    VERSION=${VERSION#v}
    if [ "$VERSION" = latest ]; then VERSION=""; fi
    case $VERSION in
        *[!0-9A-Za-z.+_-]*) usage_error "not a version: $VERSION (expected something like 1.2.0)" ;;
    esac

    if [ -n "${PGSHIP_PLATFORM:-}" ]; then
        PLATFORM=$PGSHIP_PLATFORM
        case $PLATFORM in
            *[!0-9a-z-]* | "") usage_error "PGSHIP_PLATFORM is not a platform name: $PLATFORM (e.g. linux-x64-baseline)" ;;
        esac
    else
        detect_platform
    fi
    ASSET="$BINARY_NAME-$PLATFORM"

    if [ -n "${PGSHIP_BASE_URL:-}" ]; then
        BASE_URL=${PGSHIP_BASE_URL%/}
    else
        _releases=${PGSHIP_RELEASES_URL:-https://github.com/$RELEASE_REPOSITORY/releases}
        _releases=${_releases%/}
        if [ -n "$VERSION" ]; then
            BASE_URL="$_releases/download/v$VERSION"
        else
            BASE_URL="$_releases/latest/download"
        fi
    fi

    if [ -z "$DIR" ]; then
        if [ "$(id -u)" = 0 ]; then
            DIR=/usr/local/bin
        else
            [ -n "${HOME:-}" ] || die "HOME is not set: choose where to install with --dir DIR"
            DIR="$HOME/.local/bin"
        fi
    fi
    case $DIR in
        /*) ;;
        *) DIR="$(pwd)/$DIR" ;;
    esac
    DIR=${DIR%/}
    [ -n "$DIR" ] || DIR=/
    TARGET="$DIR/$BINARY_NAME"

    if [ -n "$DRY_RUN" ]; then
        printf 'platform=%s\nasset=%s\nversion=%s\nurl=%s/%s\nchecksums=%s/SHA256SUMS\ndir=%s\ntarget=%s\n' \
            "$PLATFORM" "$ASSET" "${VERSION:-latest}" "$BASE_URL" "$ASSET" "$BASE_URL" "$DIR" "$TARGET"
        exit 0
    fi

    # Everything needed is checked before anything is downloaded or written.
    if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1; then
        die "neither curl nor wget is installed: install one of them (e.g. 'apt-get install curl', 'apk add curl') and run this again"
    fi
    sha256_tool
    if [ -n "$RUN" ] && ! (: </dev/tty) 2>/dev/null; then
        die "--run needs a terminal to start $BINARY_NAME in, and there is none: leave out --run and start $BINARY_NAME yourself"
    fi
    if [ -d "$TARGET" ]; then die "$TARGET is a directory: remove it or choose another place with --dir"; fi
    mkdir -p "$DIR" 2>/dev/null || die "cannot create $DIR: choose another place with --dir (or run as root)"
    [ -w "$DIR" ] || die "cannot write to $DIR: choose another place with --dir (or run as root)"

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$BINARY_NAME-install.XXXXXX") || die "could not create a temporary directory (is TMPDIR writable?)"

    say "installing $DISPLAY_NAME ${VERSION:-(latest release)} for $PLATFORM into $DIR"
    if ! fetch "$BASE_URL/SHA256SUMS" "$WORK/SHA256SUMS"; then
        if [ "$FETCH_STATUS" = 404 ] && [ -n "$VERSION" ] && [ -z "${PGSHIP_BASE_URL:-}" ]; then
            die "$(describe_fetch_failure "$BASE_URL/SHA256SUMS" SHA256SUMS): is there a release v$VERSION? See https://github.com/$RELEASE_REPOSITORY/releases"
        fi
        die "$(describe_fetch_failure "$BASE_URL/SHA256SUMS" SHA256SUMS): without it the download cannot be verified"
    fi
    EXPECTED=$(expected_sha256 "$WORK/SHA256SUMS" "$ASSET")
    [ -n "$EXPECTED" ] || die "this release has no build named $ASSET (it is not listed in $BASE_URL/SHA256SUMS)"

    # The smallest download this machine can unpack: .xz, else .gz, else the
    # binary itself (older releases have only that). SHA256SUMS covers both the
    # compressed file and the binary, and both are checked.
    FILE=$ASSET
    FILE_SHA=$EXPECTED
    UNPACK=""
    if command -v xz >/dev/null 2>&1; then
        _sha=$(expected_sha256 "$WORK/SHA256SUMS" "$ASSET.xz")
        if [ -n "$_sha" ]; then FILE="$ASSET.xz"; FILE_SHA=$_sha; UNPACK=xz; fi
    fi
    if [ -z "$UNPACK" ] && command -v gzip >/dev/null 2>&1; then
        _sha=$(expected_sha256 "$WORK/SHA256SUMS" "$ASSET.gz")
        if [ -n "$_sha" ]; then FILE="$ASSET.gz"; FILE_SHA=$_sha; UNPACK=gzip; fi
    fi

    say "downloading $BASE_URL/$FILE"
    FETCH_PROGRESS=1
    if ! fetch "$BASE_URL/$FILE" "$WORK/$FILE"; then
        # A mirror that copied only the binaries: take the uncompressed one.
        if [ -z "$UNPACK" ] || [ "$FETCH_STATUS" != 404 ]; then
            die "$(describe_fetch_failure "$BASE_URL/$FILE" "$FILE")"
        fi
        rm -f "$WORK/$FILE"
        FILE=$ASSET
        FILE_SHA=$EXPECTED
        UNPACK=""
        say "not found; downloading $BASE_URL/$FILE"
        if ! fetch "$BASE_URL/$FILE" "$WORK/$FILE"; then
            die "$(describe_fetch_failure "$BASE_URL/$FILE" "$FILE")"
        fi
    fi
    ACTUAL=$(sha256_of "$WORK/$FILE")
    if [ "$ACTUAL" != "$FILE_SHA" ]; then
        die "checksum mismatch for $FILE: SHA256SUMS says $FILE_SHA, the download is $ACTUAL. Refusing to install it (a corrupted download or a tampered file); nothing was changed"
    fi

    PREVIOUS=""
    if [ -x "$TARGET" ]; then PREVIOUS=$("$TARGET" --version 2>/dev/null | head -n 1 || true); fi

    # Stage beside the target (same file system), then rename over it: the target
    # is either the old binary or the new one, never a partial file.
    STAGED="$DIR/.$BINARY_NAME.install.$$"
    if [ -n "$UNPACK" ]; then
        "$UNPACK" -dc <"$WORK/$FILE" >"$STAGED" ||
            die "could not decompress $FILE with $UNPACK (a corrupted file, or no space left in $DIR); nothing was changed"
        rm -f "$WORK/$FILE"
        ACTUAL=$(sha256_of "$STAGED")
        if [ "$ACTUAL" != "$EXPECTED" ]; then
            die "checksum mismatch for $ASSET unpacked from $FILE: SHA256SUMS says $EXPECTED, the unpacked binary is $ACTUAL. Refusing to install it; nothing was changed"
        fi
    else
        cp "$WORK/$FILE" "$STAGED" || die "could not write $STAGED"
    fi
    say "checksum verified (sha256 $ACTUAL)"
    chmod 755 "$STAGED" || die "could not make $STAGED executable"
    if ! INSTALLED=$("$STAGED" --version 2>&1); then
        if [ -n "${PGSHIP_PLATFORM:-}" ]; then
            say "warning: the $PLATFORM build (PGSHIP_PLATFORM) does not run on this machine: $INSTALLED"
            INSTALLED="$ASSET"
        else
            case $PLATFORM in
                *-musl*) _hint=" (musl systems need libstdc++ and libgcc: e.g. 'apk add libstdc++ libgcc')" ;;
                linux-x64) _hint=" (if it says 'Illegal instruction', install the baseline build: PGSHIP_PLATFORM=linux-x64-baseline)" ;;
                *) _hint="" ;;
            esac
            die "the downloaded $ASSET does not run on this machine$_hint: $INSTALLED"
        fi
    fi
    mv -f "$STAGED" "$TARGET" || die "could not move the new binary to $TARGET"
    STAGED=""
    INSTALLED=$(printf '%s\n' "$INSTALLED" | head -n 1)
    if [ -n "$PREVIOUS" ] && [ "$PREVIOUS" != "$INSTALLED" ]; then
        say "installed $TARGET ($INSTALLED, replacing $PREVIOUS)"
    else
        say "installed $TARGET ($INSTALLED)"
    fi

    path_hint "$DIR"

    if [ -n "$RUN" ]; then
        cleanup
        WORK=""
        trap - EXIT INT TERM HUP
        say "starting $TARGET"
        exec "$TARGET" </dev/tty
    fi
    say "run '$BINARY_NAME' to set up the database, or '$BINARY_NAME --help' for the commands"
}

install_main "$@"
