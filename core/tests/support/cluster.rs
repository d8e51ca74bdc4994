//! Transcripts of two nodes on a pretend Redis, and the pinned copies they
//! are compared with (`core/tests/dialects/*.txt`; `CROSSCAST_BLESS=1`
//! rewrites them).

use std::fmt::Write as _;

use crosscast_core::channel::SubscriptionMode;
use crosscast_core::node::{Event, Question};
use crosscast_core::{Node, NodeConfig, Protocol, Room, SocketInfo, Time, Value};

pub(crate) const T0: Time = Time::from_millis(1_000);

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The two nodes and the transcript so far.
pub(crate) struct Cluster {
    pub(crate) a: Node,
    pub(crate) b: Node,
    pub(crate) log: String,
}

impl Cluster {
    pub(crate) fn new(protocol: &Protocol) -> Self {
        let a = Node::new(NodeConfig::new("AAAAAA", "/", protocol.clone()), T0).unwrap();
        let b = Node::new(NodeConfig::new("BBBBBB", "/", protocol.clone()), T0).unwrap();
        Cluster {
            a,
            b,
            log: String::new(),
        }
    }

    pub(crate) fn note(&mut self, line: &str) {
        self.log.push_str("## ");
        self.log.push_str(line);
        self.log.push('\n');
    }

    /// Runs both nodes until neither has anything more to say.
    pub(crate) fn pump(&mut self, now: Time) {
        loop {
            let mut quiet = true;
            for from_a in [true, false] {
                let name = if from_a { "A" } else { "B" };
                let (node, other) = if from_a {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                while let Some(event) = node.poll_event() {
                    quiet = false;
                    let _ = writeln!(self.log, "{name} event {event:?}");
                    answer(node, now, event);
                }
                while let Some(t) = node.poll_transmit() {
                    quiet = false;
                    let _ = writeln!(
                        self.log,
                        "{name} {:?} {} {}",
                        t.kind,
                        t.channel,
                        hex(&t.payload)
                    );
                    node.handle_message(now, &t.channel, &t.payload);
                    other.handle_message(now, &t.channel, &t.payload);
                }
            }
            if quiet {
                break;
            }
        }
    }

    /// Hands hand-made bytes on `channel` to B, then runs the cluster.
    pub(crate) fn inject(&mut self, now: Time, channel: &str, payload: &[u8]) {
        self.inject_quietly(false, now, channel, payload);
        self.pump(now);
    }

    /// Hands hand-made bytes on `channel` to A (`to_a`) or B, nothing else.
    pub(crate) fn inject_quietly(&mut self, to_a: bool, now: Time, channel: &str, payload: &[u8]) {
        let name = if to_a { "A" } else { "B" };
        let _ = writeln!(self.log, "X>{name} {channel} {}", hex(payload));
        let node = if to_a { &mut self.a } else { &mut self.b };
        node.handle_message(now, channel, payload);
    }

    pub(crate) fn finish(mut self) -> String {
        let _ = writeln!(self.log, "A stats {:?}", self.a.stats());
        let _ = writeln!(self.log, "B stats {:?}", self.b.stats());
        let _ = writeln!(self.log, "A peers {:?}", self.a.peers());
        let _ = writeln!(self.log, "A timeout {:?}", self.a.poll_timeout());
        self.log
    }
}

/// The host's fixed answers.
pub(crate) fn answer(node: &mut Node, now: Time, event: Event) {
    let socket = |id: &str| SocketInfo {
        id: id.to_owned(),
        handshake: Some(Value::Map(vec![("url".to_owned(), Value::from("/x"))])),
        rooms: vec![Room::from(id), Room::from("lobby")],
        data: Some(Value::Int(7)),
    };
    match event {
        Event::Question(Question::ServerCount { id, .. }) => {
            node.answer_server_count(now, id, 2).unwrap()
        }
        Event::Question(Question::LocalSockets { id, .. }) => {
            let sid = format!("sid-of-{}", node.uid());
            node.answer_local_sockets(now, id, vec![socket(&sid)])
                .unwrap()
        }
        Event::Question(Question::LocalRooms { id }) => node
            .answer_local_rooms(now, id, vec![Room::from("lobby"), Room::from("r1")])
            .unwrap(),
        Event::BroadcastWithAck { ack, .. } => {
            node.handle_remote_client_count(now, ack, 1).unwrap();
            node.handle_remote_ack(now, ack, Value::from("got it"))
                .unwrap();
        }
        Event::ServerSideEmit { ack: Some(ack), .. } => node
            .handle_server_side_ack(now, ack, Some(Value::Int(42)))
            .unwrap(),
        _ => {}
    }
}

pub(crate) fn dialects() -> Vec<(&'static str, Protocol)> {
    vec![
        ("classic", Protocol::classic()),
        (
            "classic-specific-response",
            Protocol::Classic {
                key: "socket.io".to_owned(),
                publish_on_specific_response_channel: true,
            },
        ),
        ("sharded-dynamic", Protocol::sharded()),
        (
            "sharded-static",
            Protocol::Sharded {
                channel_prefix: "socket.io".to_owned(),
                subscription_mode: SubscriptionMode::Static,
            },
        ),
        (
            "sharded-dynamic-private",
            Protocol::Sharded {
                channel_prefix: "socket.io".to_owned(),
                subscription_mode: SubscriptionMode::DynamicPrivate,
            },
        ),
    ]
}

pub(crate) fn check(name: &str, transcript: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dialects")
        .join(format!("{name}.txt"));
    if std::env::var_os("CROSSCAST_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, transcript).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(&path).expect("the pinned transcript exists");
    if pinned != transcript {
        let first = pinned
            .lines()
            .zip(transcript.lines())
            .position(|(p, t)| p != t)
            .unwrap_or_else(|| pinned.lines().count().min(transcript.lines().count()));
        panic!(
            "{name}: transcript differs from {} at line {}:\npinned: {:?}\nnow:    {:?}",
            path.display(),
            first + 1,
            pinned.lines().nth(first),
            transcript.lines().nth(first),
        );
    }
}
