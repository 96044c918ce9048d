# Shared by scripts/demo and scripts/test (sourced, not run).

# One release-profile target directory outside the clone, shared by the
# demo, the tests, clippy and CI: DuckDB's C++ is compiled once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/journeyscope/target}"
mkdir -p "$CARGO_TARGET_DIR"

# Where the tools the tests use are installed (the broker, cargo-fuzz,
# cargo-deb, the Python environment).
JOURNEYSCOPE_CACHE="$HOME/.cache/journeyscope"

# The program to run as root: nothing when root already, else sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

# Installs those of the given Debian packages that are missing, saying
# which first. On a machine without apt it names them and stops.
install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "These Debian/Ubuntu packages (or your system's equivalents) are needed: ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

# What building Journeyscope needs: C and C++ compilers for the bundled
# DuckDB, zstd and librdkafka, and the headers of OpenSSL and Cyrus SASL
# (the Kafka client's TLS and SASL).
BUILD_PACKAGES=(build-essential pkg-config libssl-dev libsasl2-dev)

# What the window loads when it opens: OpenGL/EGL with Mesa's drivers
# (which draw without a GPU) and the keyboard map.
WINDOW_PACKAGES=(libgl1 libegl1 libegl-mesa0 libglx-mesa0 libgl1-mesa-dri libxkbcommon-x11-0)
