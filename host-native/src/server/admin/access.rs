//! Who may open the admin namespace: `@socket.io/admin-ui`'s basic authentication, with
//! the bcrypt hash Node's `instrument({auth: {type: "basic", username, password}})` takes.
//!
//! A client's handshake `auth` is either `{username, password}` or `{sessionId}`:
//! - the right user name and a password that matches the hash opens the namespace and
//!   starts a session, whose id the client gets in the `session` event and sends
//!   instead of the password when it reconnects;
//! - a known session id opens it too;
//! - anything else is refused with `invalid credentials` (the words the UI looks for).
//!
//! What a hostile client could make grow is bounded:
//! - bcrypt costs tens of milliseconds of CPU per check, so at most
//!   [`Access::MAX_CHECKS`] run at a time (on tokio's blocking pool); one more is
//!   refused with `too many login attempts, try again` and counted;
//! - at most [`Sessions::MAX`] sessions are kept, each for [`Sessions::TTL`]; a new one
//!   past the bound replaces the oldest (counted).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crosscast_core::Value;
use tokio::sync::Semaphore;

/// The refusal the UI recognises.
pub(crate) const INVALID_CREDENTIALS: &str = "invalid credentials";
/// The refusal while [`Access::MAX_CHECKS`] checks run.
pub(crate) const TOO_MANY_ATTEMPTS: &str = "too many login attempts, try again";

/// The user name and bcrypt hash the admin namespace accepts.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) hash: String,
}

/// Whether `text` is a bcrypt hash (`$2a$`, `$2b$`, `$2x$` or `$2y$`, a cost, 53
/// characters of salt and hash), as Node's `instrument()` checks with `getRounds`.
pub(crate) fn is_bcrypt_hash(text: &str) -> bool {
    text.parse::<bcrypt::HashParts>().is_ok()
}

/// The admin namespace's gate and its sessions.
#[derive(Debug)]
pub(crate) struct Access {
    /// `None`: `--admin-no-auth`, everyone is let in.
    credentials: Option<Credentials>,
    checks: Arc<Semaphore>,
    sessions: Mutex<Sessions>,
    counters: AccessCounters,
}

/// What the gate did, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct AccessCounters {
    /// Logins with the password.
    pub(crate) logins: AtomicU64,
    /// Reconnections with a session id.
    pub(crate) resumed: AtomicU64,
    /// Refused: wrong user, password or session.
    pub(crate) refused: AtomicU64,
    /// Refused because [`Access::MAX_CHECKS`] checks were running.
    pub(crate) busy: AtomicU64,
    /// Sessions dropped to make room for a new one.
    pub(crate) sessions_evicted: AtomicU64,
}

/// The outcome of a handshake.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Let in; `Some` with a new session id to send to the client.
    Open(Option<String>),
    /// Refused with these words.
    Refused(&'static str),
}

impl Access {
    /// Most bcrypt checks at a time.
    pub(crate) const MAX_CHECKS: usize = 2;

    /// A gate for `credentials` (`None`: no authentication).
    pub(crate) fn new(credentials: Option<Credentials>) -> Self {
        Self {
            credentials,
            checks: Arc::new(Semaphore::new(Self::MAX_CHECKS)),
            sessions: Mutex::new(Sessions::default()),
            counters: AccessCounters::default(),
        }
    }

    /// The counters.
    pub(crate) fn counters(&self) -> &AccessCounters {
        &self.counters
    }

    /// How many sessions are kept now.
    pub(crate) fn sessions(&self) -> usize {
        self.lock().len()
    }

    /// Decides on a client's handshake `auth`, at `now`; `new_session` makes a session id.
    pub(crate) async fn admit(
        &self,
        auth: &Value,
        now: Instant,
        new_session: impl FnOnce() -> String,
    ) -> Admission {
        let Some(credentials) = &self.credentials else {
            return Admission::Open(None);
        };
        if let Some(id) = auth.get("sessionId").and_then(Value::as_str)
            && self.lock().is_valid(id, now)
        {
            self.counters.resumed.fetch_add(1, Ordering::Relaxed);
            return Admission::Open(None);
        }
        let user = auth.get("username").and_then(Value::as_str);
        let password = auth.get("password").and_then(Value::as_str);
        let (Some(user), Some(password)) = (user, password) else {
            return self.refuse();
        };
        if user != credentials.user {
            return self.refuse();
        }
        let Ok(permit) = Arc::clone(&self.checks).try_acquire_owned() else {
            self.counters.busy.fetch_add(1, Ordering::Relaxed);
            return Admission::Refused(TOO_MANY_ATTEMPTS);
        };
        let password = password.to_owned();
        let hash = credentials.hash.clone();
        let matches = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            bcrypt::verify(password, &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if !matches {
            return self.refuse();
        }
        self.counters.logins.fetch_add(1, Ordering::Relaxed);
        let id = new_session();
        if self.lock().insert(id.clone(), now) {
            self.counters
                .sessions_evicted
                .fetch_add(1, Ordering::Relaxed);
        }
        Admission::Open(Some(id))
    }

    fn refuse(&self) -> Admission {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        Admission::Refused(INVALID_CREDENTIALS)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sessions started by a login: id to start time.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    started: HashMap<String, Instant>,
}

impl Sessions {
    /// Most sessions kept.
    pub(crate) const MAX: usize = 1024;
    /// How long a session lasts (the day of Node's `RedisStore`).
    pub(crate) const TTL: Duration = Duration::from_secs(24 * 3600);

    fn len(&self) -> usize {
        self.started.len()
    }

    fn is_valid(&mut self, id: &str, now: Instant) -> bool {
        match self.started.get(id) {
            Some(&at) if now.duration_since(at) < Self::TTL => true,
            Some(_) => {
                self.started.remove(id);
                false
            }
            None => false,
        }
    }

    /// Keeps session `id`; whether another one was dropped to make room.
    fn insert(&mut self, id: String, now: Instant) -> bool {
        self.started
            .retain(|_, at| now.duration_since(*at) < Self::TTL);
        let mut evicted = false;
        if self.started.len() >= Self::MAX
            && let Some(oldest) = self
                .started
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(id, _)| id.clone())
        {
            self.started.remove(&oldest);
            evicted = true;
        }
        self.started.insert(id, now);
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bcrypt of "changeit" at cost 4, as bcryptjs (what Node's admin-ui uses) wrote it.
    const HASH: &str = "$2a$04$1knQS9DSIra6.KAAvkV3fe9GhC9T8grsTQXAFkcCscQLjJtoAyiTG";

    fn gate() -> Access {
        Access::new(Some(Credentials {
            user: "admin".into(),
            hash: HASH.into(),
        }))
    }

    fn auth(pairs: &[(&str, &str)]) -> Value {
        Value::map(pairs.iter().map(|(k, v)| (*k, Value::from(*v))))
    }

    #[tokio::test]
    async fn the_password_opens_a_session_and_the_session_opens_the_next_connection() {
        let gate = gate();
        let now = Instant::now();
        let first = gate
            .admit(
                &auth(&[("username", "admin"), ("password", "changeit")]),
                now,
                || "s1".into(),
            )
            .await;
        assert_eq!(first, Admission::Open(Some("s1".into())));
        let again = gate
            .admit(&auth(&[("sessionId", "s1")]), now, || "unused".into())
            .await;
        assert_eq!(again, Admission::Open(None));
        let expired = gate
            .admit(&auth(&[("sessionId", "s1")]), now + Sessions::TTL, || {
                "x".into()
            })
            .await;
        assert_eq!(expired, Admission::Refused(INVALID_CREDENTIALS));
        assert_eq!(gate.counters().logins.load(Ordering::Relaxed), 1);
        assert_eq!(gate.counters().resumed.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_wrong_user_password_or_session_is_refused_with_the_words_the_ui_reads() {
        let gate = gate();
        let now = Instant::now();
        for bad in [
            auth(&[("username", "admin"), ("password", "wrong")]),
            auth(&[("username", "root"), ("password", "changeit")]),
            auth(&[("sessionId", "made-up")]),
            Value::Map(Vec::new()),
        ] {
            let got = gate.admit(&bad, now, || "never".into()).await;
            assert_eq!(got, Admission::Refused(INVALID_CREDENTIALS), "{bad:?}");
        }
        assert_eq!(gate.sessions(), 0);
        assert_eq!(gate.counters().refused.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn without_credentials_everyone_is_let_in_without_a_session() {
        let open = Access::new(None);
        let got = open
            .admit(&Value::Map(Vec::new()), Instant::now(), || "x".into())
            .await;
        assert_eq!(got, Admission::Open(None));
    }

    #[test]
    fn sessions_are_bounded_and_the_oldest_goes_first() {
        let mut sessions = Sessions::default();
        let start = Instant::now();
        for i in 0..Sessions::MAX {
            assert!(!sessions.insert(format!("s{i}"), start + Duration::from_millis(i as u64)));
        }
        let late = start + Duration::from_secs(1);
        assert!(sessions.insert("newest".into(), late), "one was dropped");
        assert_eq!(sessions.len(), Sessions::MAX);
        assert!(!sessions.is_valid("s0", late), "the oldest went");
        assert!(sessions.is_valid("s1", late));
        assert!(sessions.is_valid("newest", late));
    }

    #[test]
    fn only_bcrypt_hashes_are_hashes() {
        assert!(is_bcrypt_hash(HASH));
        assert!(!is_bcrypt_hash("changeit"));
        assert!(!is_bcrypt_hash("$2b$04$short"));
    }
}
