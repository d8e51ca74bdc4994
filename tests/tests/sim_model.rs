//! Model-based test: random sequences of operations on a simulated cluster,
//! checked against a naive reference of who must receive what.

use std::collections::{BTreeMap, BTreeSet};

use crosscast_core::node::Protocol;
use crosscast_core::{BroadcastOpts, Room, Value};
use crosscast_tests::sim::Cluster;
use proptest::prelude::*;

const NODES: usize = 3;
const ROOMS: [&str; 3] = ["r0", "r1", "r2"];

#[derive(Clone, Debug)]
enum Op {
    Connect {
        node: usize,
        rooms: Vec<usize>,
    },
    Broadcast {
        node: usize,
        rooms: Vec<usize>,
        except: Vec<usize>,
    },
    Join {
        node: usize,
        target: usize,
        room: usize,
    },
    Leave {
        node: usize,
        target: usize,
        room: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let node = 0..NODES;
    let rooms = prop::collection::vec(0..ROOMS.len(), 0..3);
    prop_oneof![
        (node.clone(), rooms.clone()).prop_map(|(node, rooms)| Op::Connect { node, rooms }),
        (
            node.clone(),
            rooms.clone(),
            prop::collection::vec(0..ROOMS.len(), 0..2)
        )
            .prop_map(|(node, rooms, except)| Op::Broadcast {
                node,
                rooms,
                except
            }),
        (node.clone(), 0..ROOMS.len(), 0..ROOMS.len()).prop_map(|(node, target, room)| Op::Join {
            node,
            target,
            room
        }),
        (node, 0..ROOMS.len(), 0..ROOMS.len()).prop_map(|(node, target, room)| Op::Leave {
            node,
            target,
            room
        }),
    ]
}

/// The reference: every socket's rooms, and what it must have received.
#[derive(Default)]
struct Model {
    rooms: BTreeMap<String, BTreeSet<String>>,
    received: BTreeMap<String, Vec<String>>,
}

impl Model {
    fn matching(&self, rooms: &[&str], except: &[&str]) -> Vec<String> {
        self.rooms
            .iter()
            .filter(|(_, r)| rooms.is_empty() || rooms.iter().any(|x| r.contains(*x)))
            .filter(|(_, r)| !except.iter().any(|x| r.contains(*x)))
            .map(|(sid, _)| sid.clone())
            .collect()
    }
}

fn run(protocol: Protocol, ops: Vec<Op>, seed: u64) -> Result<(), TestCaseError> {
    let mut cluster = Cluster::new(NODES, protocol, seed);
    let mut model = Model::default();
    let mut next_socket = 0;
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Connect { node, rooms } => {
                let sid = format!("s{next_socket}");
                next_socket += 1;
                let names: Vec<&str> = rooms.iter().map(|r| ROOMS[*r]).collect();
                cluster.connect(node, &sid, &names);
                let mut all: BTreeSet<String> = names.iter().map(|r| r.to_string()).collect();
                all.insert(sid.clone());
                model.rooms.insert(sid.clone(), all);
                model.received.insert(sid, Vec::new());
            }
            Op::Broadcast {
                node,
                rooms,
                except,
            } => {
                let event = format!("m{step}");
                let rooms: Vec<&str> = rooms.iter().map(|r| ROOMS[*r]).collect();
                let except: Vec<&str> = except.iter().map(|r| ROOMS[*r]).collect();
                for sid in model.matching(&rooms, &except) {
                    model
                        .received
                        .get_mut(&sid)
                        .expect("socket")
                        .push(format!("\"{event}\""));
                }
                let opts =
                    BroadcastOpts::to_rooms(rooms.iter().copied()).except(except.iter().copied());
                cluster.broadcast(node, &event, vec![], opts);
            }
            Op::Join { node, target, room } | Op::Leave { node, target, room } => {
                let join = matches!(op, Op::Join { .. });
                let (target, room) = (ROOMS[target], ROOMS[room]);
                for sid in model.matching(&[target], &[]) {
                    let rooms = model.rooms.get_mut(&sid).expect("socket");
                    if join {
                        rooms.insert(room.to_owned());
                    } else {
                        rooms.remove(room);
                    }
                }
                let opts = BroadcastOpts::to_rooms([target]);
                if join {
                    cluster.sockets_join(node, opts, &[room]);
                } else {
                    cluster.sockets_leave(node, opts, &[room]);
                }
            }
        }
        cluster.run_for(30);
    }
    for (sid, want) in &model.received {
        let got: Vec<String> = cluster
            .received(sid)
            .iter()
            .map(|data| {
                data.iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        prop_assert_eq!(&got, want, "socket {}", sid);
        let rooms: BTreeSet<String> = cluster
            .socket(sid)
            .expect("socket")
            .rooms
            .iter()
            .map(Room::to_string)
            .collect();
        prop_assert_eq!(&rooms, &model.rooms[sid], "rooms of {}", sid);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn classic_cluster_delivers_like_the_reference(ops in prop::collection::vec(op(), 1..40), seed in any::<u64>()) {
        run(Protocol::classic(), ops, seed)?;
    }

    #[test]
    fn sharded_cluster_delivers_like_the_reference(ops in prop::collection::vec(op(), 1..40), seed in any::<u64>()) {
        run(Protocol::sharded(), ops, seed)?;
    }
}
