//! Name lookups made once per host and kept.
//!
//! A cold lock starts dozens of requests at once; without this each new connection looks its
//! host up again, and some resolvers drop part of such a burst (a lost query costs the 5 s
//! retry of the C library). The daemon lives for hours, so it asks once per host and keeps the
//! answer for `KEEP`; concurrent lookups of one host share one query. The system resolver is
//! kept (getaddrinfo on a blocking thread: /etc/hosts, nsswitch and VPN setups work as for pip);
//! it tells no TTL, so `KEEP` stands in for one. Failures are not kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::flights::Flights;

/// How long an answer is used.
const KEEP: Duration = Duration::from_secs(300);

type Addresses = Arc<Vec<SocketAddr>>;
type Answer = Result<Addresses, String>;

#[derive(Clone, Default)]
pub struct CachingResolver {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each host's addresses, with when they were looked up.
    answers: Mutex<HashMap<String, (Addresses, Instant)>>,
    flights: Flights<String, Answer>,
    /// Queries made to the system resolver (not answers from memory).
    lookups: AtomicU64,
}

impl CachingResolver {
    /// How many times the system resolver was asked.
    pub fn lookups(&self) -> u64 {
        self.inner.lookups.load(Ordering::Relaxed)
    }

    pub async fn lookup(&self, host: &str) -> Answer {
        if let Some(known) = self.inner.known(host) {
            return Ok(known);
        }
        let inner = self.inner.clone();
        let owned = host.to_string();
        self.inner
            .flights
            .join(host.to_string(), move || {
                async move {
                    inner.lookups.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    let found = tokio::net::lookup_host((owned.as_str(), 0))
                        .await
                        .map(|addresses| Arc::new(addresses.collect::<Vec<_>>()))
                        .map_err(|error| error.to_string())?;
                    tracing::debug!(host = %owned, took_ms = started.elapsed().as_millis() as u64, addresses = found.len(), "looked up");
                    inner
                        .answers
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(owned, (found.clone(), Instant::now()));
                    Ok(found)
                }
                .boxed()
            })
            .await
    }
}

impl Inner {
    fn known(&self, host: &str) -> Option<Addresses> {
        let answers = self.answers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (addresses, when) = answers.get(host)?;
        (when.elapsed() < KEEP).then(|| addresses.clone())
    }
}

impl Resolve for CachingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addresses = resolver.lookup(name.as_str()).await?;
            let addrs: Addrs = Box::new(addresses.as_ref().clone().into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_lookups_of_one_host_asks_the_system_once() {
        let resolver = CachingResolver::default();
        let lookups = (0..50).map(|_| resolver.lookup("localhost"));
        let answers = futures::future::join_all(lookups).await;
        assert!(
            answers
                .iter()
                .all(|answer| answer.as_ref().is_ok_and(|found| !found.is_empty()))
        );
        assert_eq!(resolver.lookups(), 1);
        resolver.lookup("localhost").await.unwrap();
        assert_eq!(resolver.lookups(), 1, "a later lookup is answered from memory");
    }
}
