//! The end-to-end test harness: isolated daemons, local indexes, real binaries.
