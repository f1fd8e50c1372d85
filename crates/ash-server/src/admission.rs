//! Places under `server.max_concurrent_requests`, shared fairly between clients.
//!
//! While a place is free, anyone gets it. When none is free, a single message may wait
//! (`server.admission_wait_ms`) for one, unless its client already holds its fair share of the
//! places (the limit divided among the clients holding or waiting for one): that client is
//! answered at once (a single message degraded, from patterns) instead of queueing ahead of the
//! others. A lone client, such as the bot carrying a whole community, is never over its share,
//! so it always queues.
//!
//! A client is the key it presents (`x-api-key`, `X-Ash-Internal-Key`, Bearer), else its TCP
//! peer address. A key need not be valid to name a client: Ash-Bot and Ash-Thrash may present
//! different internal keys with no API key configured.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::presented_key;

/// Who a request counts against. Keys are kept as salted hashes, never as the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ClientId {
    Key(u64),
    Address(IpAddr),
}

/// How many places one client holds and how many of its requests wait for one.
#[derive(Debug, Default)]
struct Presence {
    holding: usize,
    waiting: usize,
}

/// The places and who holds them.
#[derive(Debug)]
pub(crate) struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
    /// Clients with a place or waiting for one; an entry goes when both counts reach zero, so the
    /// map never holds more clients than requests in flight. A plain mutex: every critical
    /// section is a few map operations, never held across an await.
    clients: Mutex<HashMap<ClientId, Presence>>,
    key_hasher: std::collections::hash_map::RandomState,
}

/// Why no place was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoPlace {
    /// Every place is taken and the request could not (or did not) wait for one.
    Full,
    /// Every place is taken and this client already holds its fair share of them.
    OverFairShare,
}

impl NoPlace {
    /// The label of `ash_rejected_total{reason}`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            NoPlace::Full => "concurrency",
            NoPlace::OverFairShare => "fair_share",
        }
    }
}

/// A place held; given back when dropped.
#[derive(Debug)]
pub(crate) struct Place {
    _permit: OwnedSemaphorePermit,
    admission: Arc<Admission>,
    client: ClientId,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.admission.update(self.client, |p| p.holding -= 1);
    }
}

/// A request waiting for a place; counted while it waits, also when its wait is cancelled.
struct Waiting<'a> {
    admission: &'a Admission,
    client: ClientId,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.admission.update(self.client, |p| p.waiting -= 1);
    }
}

impl Admission {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            clients: Mutex::new(HashMap::new()),
            key_hasher: std::collections::hash_map::RandomState::new(),
        })
    }

    /// The client a request counts against.
    pub(crate) fn client_id(&self, headers: &HeaderMap, peer: SocketAddr) -> ClientId {
        match presented_key(headers) {
            Some(key) => ClientId::Key(self.key_hasher.hash_one(key)),
            None => ClientId::Address(peer.ip()),
        }
    }

    /// A place for `client`, waiting up to `wait` when none is free and the client is within its
    /// fair share.
    pub(crate) async fn enter(
        self: &Arc<Self>,
        client: ClientId,
        wait: Duration,
    ) -> Result<Place, NoPlace> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(self.place(client, permit));
        }
        if wait.is_zero() {
            return Err(NoPlace::Full);
        }
        let waiting = {
            let mut clients = self.lock();
            if over_fair_share(&clients, client, self.limit) {
                return Err(NoPlace::OverFairShare);
            }
            clients.entry(client).or_default().waiting += 1;
            Waiting {
                admission: self,
                client,
            }
        };
        let permit = tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned()).await;
        drop(waiting);
        match permit {
            Ok(Ok(permit)) => Ok(self.place(client, permit)),
            _ => Err(NoPlace::Full),
        }
    }

    fn place(self: &Arc<Self>, client: ClientId, permit: OwnedSemaphorePermit) -> Place {
        self.lock().entry(client).or_default().holding += 1;
        Place {
            _permit: permit,
            admission: Arc::clone(self),
            client,
        }
    }

    fn update(&self, client: ClientId, change: impl FnOnce(&mut Presence)) {
        let mut clients = self.lock();
        if let Some(presence) = clients.get_mut(&client) {
            change(presence);
            if presence.holding == 0 && presence.waiting == 0 {
                clients.remove(&client);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Presence>> {
        // The map stays consistent even if a holder panicked: each update is one field.
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `client` holds at least its share of `limit` while other clients hold or wait for a
/// place. Alone, a client is never over its share.
fn over_fair_share(clients: &HashMap<ClientId, Presence>, client: ClientId, limit: usize) -> bool {
    let others = clients
        .iter()
        .filter(|(id, p)| **id != client && p.holding + p.waiting > 0)
        .count();
    if others == 0 {
        return false;
    }
    let share = (limit / (others + 1)).max(1);
    clients.get(&client).map_or(0, |p| p.holding) >= share
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> ClientId {
        ClientId::Address(IpAddr::from([10, 0, 0, last]))
    }

    #[tokio::test]
    async fn a_lone_client_queues_for_a_place() {
        let admission = Admission::new(1);
        let held = admission
            .enter(address(1), Duration::ZERO)
            .await
            .expect("free");
        let waiter = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move { admission.enter(address(1), Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(
            waiter.await.expect("task").is_ok(),
            "the same client waits for its place"
        );
    }

    #[tokio::test]
    async fn a_client_over_its_share_is_answered_at_once_while_another_waits() {
        let admission = Admission::new(2);
        let (a, b) = (address(1), address(2));
        let a1 = admission.enter(a, Duration::ZERO).await.expect("free");
        let a2 = admission.enter(a, Duration::ZERO).await.expect("free");
        // B waits for a place: now two clients share two places, one each.
        let b_waiting = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move { admission.enter(b, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            admission.enter(a, Duration::from_secs(5)).await.err(),
            Some(NoPlace::OverFairShare),
            "A holds both places while B waits"
        );
        drop(a1);
        let b_place = b_waiting
            .await
            .expect("task")
            .expect("B gets the freed place");
        // One place each: A (holding one) is at its share, B too.
        assert_eq!(
            admission.enter(b, Duration::from_millis(10)).await.err(),
            Some(NoPlace::OverFairShare)
        );
        drop((a2, b_place));
        assert!(admission.lock().is_empty(), "no client is left in the map");
    }

    #[tokio::test]
    async fn a_cancelled_wait_is_not_counted_as_waiting() {
        let admission = Admission::new(1);
        let held = admission
            .enter(address(1), Duration::ZERO)
            .await
            .expect("free");
        let waiting = admission.enter(address(2), Duration::from_secs(5));
        assert!(
            tokio::time::timeout(Duration::from_millis(20), waiting)
                .await
                .is_err()
        );
        // B gave up: A is alone again and may queue.
        assert!(!over_fair_share(&admission.lock(), address(1), 1));
        drop(held);
        assert!(admission.lock().is_empty());
    }

    #[test]
    fn keys_name_clients_and_addresses_stand_in_without_one() {
        let admission = Admission::new(4);
        let peer: SocketAddr = "10.0.0.9:5000".parse().expect("address");
        let mut bot = HeaderMap::new();
        bot.insert("x-ash-internal-key", "bot".parse().expect("header"));
        let mut thrash = HeaderMap::new();
        thrash.insert("x-ash-internal-key", "thrash".parse().expect("header"));
        let ids = [
            admission.client_id(&bot, peer),
            admission.client_id(&thrash, peer),
            admission.client_id(&HeaderMap::new(), peer),
        ];
        assert_ne!(ids[0], ids[1]);
        assert_eq!(ids[2], ClientId::Address(peer.ip()));
        assert_eq!(admission.client_id(&bot, peer), ids[0]);
    }
}
