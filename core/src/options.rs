//! Broadcast options: which sockets a broadcast or a remote operation targets.

use crate::error::DecodeError;
use crate::room::{Room, rooms_from, rooms_to_value};
use crate::value::Value;

/// The `flags` object of a broadcast. Unknown flags are kept and ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flags {
    /// `.volatile`: the packet may be dropped when a transport is not writable.
    pub volatile: Option<bool>,
    /// `.compress(bool)`: per-message deflate hint. Can be `Some(false)`.
    pub compress: Option<bool>,
    /// `.timeout(ms)`: the requester's ack timeout.
    pub timeout: Option<u64>,
    /// Set on `RemoteSocket.emit`; receivers ignore it.
    pub expect_single_response: Option<bool>,
    /// Any other flag, in arrival order (legacy `broadcast`, `json`, `binary`, …).
    pub extra: Vec<(String, Value)>,
}

impl Flags {
    pub(crate) fn to_value(&self) -> Value {
        let mut entries = Vec::new();
        if let Some(v) = self.volatile {
            entries.push(("volatile".to_owned(), Value::Bool(v)));
        }
        if let Some(c) = self.compress {
            entries.push(("compress".to_owned(), Value::Bool(c)));
        }
        if let Some(t) = self.timeout {
            entries.push(("timeout".to_owned(), Value::from(t)));
        }
        if let Some(e) = self.expect_single_response {
            entries.push(("expectSingleResponse".to_owned(), Value::Bool(e)));
        }
        entries.extend(self.extra.iter().cloned());
        Value::Map(entries)
    }

    pub(crate) fn from_value(value: Option<&Value>) -> Result<Flags, DecodeError> {
        let entries = match value {
            None | Some(Value::Nil) => return Ok(Flags::default()),
            Some(Value::Map(entries)) => entries,
            Some(_) => return Err(DecodeError::shape("flags", "not a map")),
        };
        let mut flags = Flags::default();
        for (k, v) in entries {
            match k.as_str() {
                "volatile" => flags.volatile = v.as_bool(),
                "compress" => flags.compress = v.as_bool(),
                "timeout" => {
                    flags.timeout = v.as_u64().or_else(|| {
                        v.as_f64()
                            .filter(|f| f.is_finite() && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                }
                "expectSingleResponse" => flags.expect_single_response = v.as_bool(),
                _ => flags.extra.push((k.clone(), v.clone())),
            }
        }
        Ok(flags)
    }
}

/// Which sockets an operation targets: every socket in any of `rooms` (all
/// sockets when empty) that is in none of `except`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BroadcastOpts {
    /// Target rooms; empty means the whole namespace.
    pub rooms: Vec<Room>,
    /// Sockets in any of these rooms are excluded (socket ids are rooms).
    pub except: Vec<Room>,
    /// The flags.
    pub flags: Flags,
}

/// The key order of an encoded options object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OptsLayout {
    /// `rooms, except, flags`: the classic adapter and ClusterAdapter.
    Adapter,
    /// `rooms, flags, except`: the emitter.
    Emitter,
    /// `rooms, except`: classic JSON requests.
    NoFlags,
}

impl BroadcastOpts {
    /// Options that target every socket.
    pub fn all() -> Self {
        Self::default()
    }

    /// Options that target the given rooms.
    pub fn to_rooms(rooms: impl IntoIterator<Item = impl Into<Room>>) -> Self {
        Self {
            rooms: rooms.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// Adds excluded rooms.
    pub fn except(mut self, rooms: impl IntoIterator<Item = impl Into<Room>>) -> Self {
        self.except.extend(rooms.into_iter().map(Into::into));
        self
    }

    pub(crate) fn to_value(&self, layout: OptsLayout) -> Value {
        let rooms = ("rooms".to_owned(), rooms_to_value(&self.rooms));
        let except = ("except".to_owned(), rooms_to_value(&self.except));
        let flags = ("flags".to_owned(), self.flags.to_value());
        Value::Map(match layout {
            OptsLayout::Adapter => vec![rooms, except, flags],
            OptsLayout::Emitter => vec![rooms, flags, except],
            OptsLayout::NoFlags => vec![rooms, except],
        })
    }

    /// Reads options; missing `rooms`, `except` or `flags` are empty, as in Node.
    pub(crate) fn from_value(value: &Value) -> Result<BroadcastOpts, DecodeError> {
        if !matches!(value, Value::Map(_)) {
            return Err(DecodeError::shape("opts", "not a map"));
        }
        Ok(BroadcastOpts {
            rooms: rooms_from(value.get("rooms"), "opts.rooms")?,
            except: rooms_from(value.get("except"), "opts.except")?,
            flags: Flags::from_value(value.get("flags"))?,
        })
    }
}
