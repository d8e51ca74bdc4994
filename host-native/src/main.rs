fn main() {
    println!("crosscast {}", env!("CARGO_PKG_VERSION"));
}
