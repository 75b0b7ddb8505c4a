//! The broker's configuration file: the commented example states the defaults truly, every
//! setting reaches the core, typos are refused.

use std::path::Path;
use std::time::Duration;

use examples::config::FileConfig;
use mqtt_broker_core::Config;

#[test]
fn the_commented_example_is_the_defaults() {
    let file = FileConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("broker.toml"))
        .expect("examples/broker.toml parses");
    assert_eq!(file.broker_config(), Config::default());
    assert_eq!(file.listen_addrs(), ["127.0.0.1:1883".parse().unwrap()]);
    assert_eq!(file.limits.max_connections, None);
    assert_eq!(file.log.level.as_deref(), Some("info"));
}

#[test]
fn an_empty_file_is_the_defaults() {
    let file = FileConfig::parse("").unwrap();
    assert_eq!(file.broker_config(), Config::default());
    assert_eq!(file.listen_addrs(), ["127.0.0.1:1883".parse().unwrap()]);
}

#[test]
fn every_setting_reaches_the_core() {
    let file = FileConfig::parse(
        r#"
        [[listener]]
        bind = "0.0.0.0"
        port = 1884
        [[listener]]
        port = 1885
        [limits]
        max_connections = 5
        max_packet_size = 2048
        receive_maximum = 20
        max_inflight = 7
        max_queued_messages = 50
        max_queued_bytes = 4096
        queue_qos0_offline = true
        max_keep_alive = 120
        max_session_expiry = 3600
        topic_alias_maximum = 3
        connect_timeout = 4
        max_topic_levels = 16
        max_subscriptions_per_session = 9
        [sys]
        interval = 0
        [log]
        level = "debug"
        "#,
    )
    .unwrap();
    let config = file.broker_config();
    assert_eq!(
        file.listen_addrs(),
        [
            "0.0.0.0:1884".parse().unwrap(),
            "127.0.0.1:1885".parse().unwrap()
        ]
    );
    assert_eq!(file.limits.max_connections, Some(5));
    assert_eq!(config.max_packet_size, 2048);
    assert_eq!(config.receive_maximum, 20);
    assert_eq!(config.max_inflight, 7);
    assert_eq!(config.max_queued_messages, 50);
    assert_eq!(config.max_queued_bytes, 4096);
    assert!(config.queue_qos0_offline);
    assert_eq!(config.max_keep_alive, Some(120));
    assert_eq!(config.max_session_expiry, 3600);
    assert_eq!(config.topic_alias_maximum, 3);
    assert_eq!(config.connect_timeout, Duration::from_secs(4));
    assert_eq!(config.max_topic_levels, 16);
    assert_eq!(config.max_subscriptions_per_session, 9);
    assert_eq!(config.sys_interval, None, "interval 0 turns $SYS off");
}

#[test]
fn unknown_keys_and_wrong_types_are_refused_with_where() {
    for (text, needle) in [
        ("[limits]\nmax_inflihgt = 5\n", "max_inflihgt"),
        ("[limits]\nmax_inflight = \"many\"\n", "max_inflight"),
        ("[limits]\nmax_inflight = 70000\n", "max_inflight"),
        ("[[listener]]\nbind = \"not an address\"\n", "bind"),
        ("[persistance]\n", "persistance"),
    ] {
        let err = FileConfig::parse(text).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}
