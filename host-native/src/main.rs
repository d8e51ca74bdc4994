//! `crosscast`: the chat server of a crosscast cluster, and `crosscast emit`.
//! See `crosscast --help` and [`crosscast::server`].

fn main() -> std::process::ExitCode {
    crosscast::server::main()
}
