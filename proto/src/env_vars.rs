//! Every environment variable axle reads, in one place.
//!
//! The client forwards [`FORWARDED`] with each request; the daemon reads
//! request settings only from what was forwarded, never from its own
//! environment, because one daemon serves shells with different settings.

/// Where axle keeps its state (default: `$XDG_CACHE_HOME/axle`).
pub const AXLE_HOME: &str = "AXLE_HOME";
/// Seconds of inactivity after which the daemon exits (default 1800).
pub const AXLE_IDLE_TIMEOUT: &str = "AXLE_IDLE_TIMEOUT";
/// The `axled` executable the client starts (default: next to `axle`, else PATH).
pub const AXLE_DAEMON_BIN: &str = "AXLE_DAEMON_BIN";
/// `tracing` filter for the daemon's log (default `info`).
pub const AXLE_LOG: &str = "AXLE_LOG";
/// Most bytes one wheel may unpack to, read by the daemon at start
/// (default 8 GiB): a larger one is refused as a zip bomb.
pub const AXLE_MAX_WHEEL_SIZE: &str = "AXLE_MAX_WHEEL_SIZE";
/// `1`: the daemon flushes unpacked wheels and installs to disk before it
/// trusts them (survives a machine crash; slower). Read at daemon start.
pub const AXLE_DURABLE: &str = "AXLE_DURABLE";
/// Seconds one HTTP request to an index may take (default 60).
pub const AXLE_HTTP_TIMEOUT: &str = "AXLE_HTTP_TIMEOUT";
/// Seconds one build hook (PEP 517) may run before it is stopped (default 1800).
pub const AXLE_BUILD_TIMEOUT: &str = "AXLE_BUILD_TIMEOUT";
/// `0`: the daemon speaks HTTP/1.1 only, never HTTP/2 (read at daemon start; for comparing
/// and for servers whose HTTP/2 misbehaves).
pub const AXLE_HTTP2: &str = "AXLE_HTTP2";
/// `1`: the client runs the job in its own process (no daemon started, none left behind), as
/// `--no-daemon` does. For a Dockerfile's `RUN`, for CI.
pub const AXLE_NO_DAEMON: &str = "AXLE_NO_DAEMON";

/// Daemon: the store's size cap (`10GiB`, `500 MB`): when the daemon is idle and the store is
/// larger, the least recently used wheels that no venv links are evicted.
pub const AXLE_STORE_MAX_SIZE: &str = "AXLE_STORE_MAX_SIZE";

/// Daemon: the most directories watched with the kernel's notifications (inotify); past it,
/// or when the kernel's own limit is reached, directories are polled once a second.
pub const AXLE_WATCH_LIMIT: &str = "AXLE_WATCH_LIMIT";

/// The team store (`s3://BUCKET/PREFIX`): a second tier of the store, shared across machines.
pub const AXLE_TEAM_STORE: &str = "AXLE_TEAM_STORE";
/// `1`: read the team store without signing requests, and never write it.
pub const AXLE_TEAM_STORE_ANONYMOUS: &str = "AXLE_TEAM_STORE_ANONYMOUS";
/// The secret key file build records are signed with (`axle store keygen`).
pub const AXLE_TEAM_STORE_SIGNING_KEY: &str = "AXLE_TEAM_STORE_SIGNING_KEY";
/// `name:BASE64,...`: the public keys whose build records are believed.
pub const AXLE_TEAM_STORE_TRUSTED_KEYS: &str = "AXLE_TEAM_STORE_TRUSTED_KEYS";
/// `all` (default), `built` or `none`: what a writer uploads.
pub const AXLE_TEAM_STORE_PUSH: &str = "AXLE_TEAM_STORE_PUSH";
/// axle's config file (default `$XDG_CONFIG_HOME/axle/axle.toml`), whose `[team-store]` table
/// supplies what the variables above do not.
pub const AXLE_CONFIG_FILE: &str = "AXLE_CONFIG_FILE";

/// The variables a request carries to the daemon.
pub const FORWARDED: &[&str] = &[
    // Interpreter discovery.
    "PATH",
    "HOME",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "VIRTUAL_ENV",
    // pip's configuration, honoured as pip honours it.
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_PRE",
    "PIP_CONFIG_FILE",
    "PIP_CERT",
    "PIP_DEFAULT_TIMEOUT",
    // Source builds: what pip also applies to them.
    "PIP_CONSTRAINT",
    "PIP_ONLY_BINARY",
    "PIP_NO_BINARY",
    "PIP_NO_BUILD_ISOLATION",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "NETRC",
    "SSL_CERT_FILE",
    // pip-compile's header.
    "CUSTOM_COMPILE_COMMAND",
    // Output and networking.
    "NO_COLOR",
    "AXLE_HTTP_TIMEOUT",
    "AXLE_BUILD_TIMEOUT",
    // The team store, and the AWS settings its S3 client reads (as AWS's tools read them).
    AXLE_TEAM_STORE,
    AXLE_TEAM_STORE_ANONYMOUS,
    AXLE_TEAM_STORE_SIGNING_KEY,
    AXLE_TEAM_STORE_TRUSTED_KEYS,
    AXLE_TEAM_STORE_PUSH,
    AXLE_CONFIG_FILE,
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ALLOW_HTTP",
];
