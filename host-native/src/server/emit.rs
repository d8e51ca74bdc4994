//! `crosscast emit`: publishes one event into a running cluster as Node's
//! `@socket.io/redis-emitter` does (classic protocol).

use crosscast_core::emitter::Emitter;
use crosscast_core::{BroadcastOpts, Limits, Room, Value};

use crate::driver::{Driver, DriverConfig, PubSubKind};

use super::cli::EmitArgs;

/// Publishes the event of `args`; returns the channel it was published on.
pub(crate) async fn run(args: EmitArgs) -> Result<String, String> {
    let emitter = Emitter::new(&args.key, &args.nsp);
    let opts = BroadcastOpts::to_rooms(args.to.iter().cloned().map(Room::Str))
        .except(args.except.iter().cloned().map(Room::Str));
    let values = args.args.iter().map(|a| parse_arg(a)).collect();
    let publication = emitter
        .broadcast(&opts, &args.event, values)
        .map_err(|e| format!("cannot emit {:?}: {e}", args.event))?;
    let mut config = DriverConfig::new(args.redis_url);
    config.kind = PubSubKind::Classic;
    let (driver, _events) = Driver::connect(config).await.map_err(|e| e.to_string())?;
    let result = driver
        .publish(&publication.channel, publication.payload)
        .await
        .map_err(|e| e.to_string());
    driver.close().await;
    result.map(|()| publication.channel)
}

/// An argument: JSON when it parses as JSON, else the string itself.
pub(crate) fn parse_arg(arg: &str) -> Value {
    crosscast_core::json::decode(arg.as_bytes(), &Limits::default())
        .unwrap_or_else(|_| Value::from(arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_json_or_strings() {
        assert_eq!(parse_arg("hello"), Value::from("hello"));
        assert_eq!(parse_arg("\"hello\""), Value::from("hello"));
        assert_eq!(parse_arg("42"), Value::from(42));
        assert_eq!(parse_arg("true"), Value::Bool(true));
        assert_eq!(
            parse_arg("{\"a\":[1,null]}"),
            Value::map([("a", Value::Array(vec![Value::from(1), Value::Nil]))])
        );
        assert_eq!(parse_arg("{oops"), Value::from("{oops"));
    }
}
