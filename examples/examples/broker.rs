//! The MQTT broker (`cargo run --release --example broker`).
//!
//! The broker core and its tokio adapter are not built yet; until they are, this program
//! says so and exits with status 1 rather than pretending to serve.

fn main() {
    eprintln!(
        "broker: not built yet. The codec (mqtt-codec) is done; the broker core and this \
         tokio adapter come with the next issues. Run `scripts/test.sh` to test what exists."
    );
    std::process::exit(1);
}
