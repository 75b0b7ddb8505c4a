//! The tokio client (`examples::client`) against our broker over loopback. Bounded by
//! timeouts everywhere.

mod support;

use std::time::Duration;

use bytes::Bytes;
use examples::client::{connect, ClientConfig, MqttClient};
use mqtt_client_core::{ConnectOptions, Event};
use mqtt_codec::{MqttString, ProtocolVersion, Publish, QoS, ReasonCode, SubscriptionOptions};
use support::Server;
use tokio::sync::mpsc;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(10);

fn options(id: &'static str, version: ProtocolVersion) -> ConnectOptions {
    let mut options = ConnectOptions::new(MqttString::from_static(id));
    options.version = version;
    options
}

fn message(topic: &'static str, payload: String, qos: QoS) -> Publish {
    let mut publish = Publish::new(MqttString::from_static(topic), Bytes::from(payload));
    publish.qos = qos;
    publish
}

/// The next event matching `pick`, skipping others.
async fn wait_for<T>(
    events: &mut mpsc::Receiver<Event>,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    timeout(STEP, async {
        loop {
            let event = events.recv().await.expect("the client is running");
            if let Some(found) = pick(event) {
                return found;
            }
        }
    })
    .await
    .expect("the event came in time")
}

async fn connected(events: &mut mpsc::Receiver<Event>) -> bool {
    wait_for(events, |e| match e {
        Event::Connected {
            session_present, ..
        } => Some(session_present),
        _ => None,
    })
    .await
}

/// Subscribes to one filter and waits for the SUBACK.
async fn subscribe_to(
    client: &MqttClient,
    events: &mut mpsc::Receiver<Event>,
    filter: &'static str,
    qos: QoS,
) {
    client
        .subscribe(vec![(
            MqttString::from_static(filter),
            SubscriptionOptions::qos(qos),
        )])
        .await
        .unwrap();
    wait_for(events, |e| {
        matches!(e, Event::Subscribed { .. }).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_receive_through_the_broker() {
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let addr = format!("127.0.0.1:{}", server.port);
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let (sub, mut sub_events) = connect(
            addr.clone(),
            options("sub", version),
            ClientConfig::default(),
        );
        connected(&mut sub_events).await;
        subscribe_to(&sub, &mut sub_events, "t/#", QoS::ExactlyOnce).await;
        let (publisher, mut pub_events) = connect(
            addr.clone(),
            options("pub", version),
            ClientConfig::default(),
        );
        connected(&mut pub_events).await;
        let id = publisher
            .publish(message("t/a", "hello".into(), QoS::ExactlyOnce))
            .await
            .unwrap();
        let reason = wait_for(&mut pub_events, |e| match e {
            Event::PublishCompleted {
                id: done,
                reason_code,
            } if done == id => Some(reason_code),
            _ => None,
        })
        .await;
        assert!(!reason.is_error(), "{reason:?}");
        let got = wait_for(&mut sub_events, |e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .await;
        assert_eq!(
            (got.topic.as_str(), &got.payload[..], got.qos),
            ("t/a", &b"hello"[..], QoS::ExactlyOnce)
        );
        publisher.disconnect().await.unwrap();
        sub.disconnect().await.unwrap();
    }
    drop(server);
}

/// Publishing from the task that handles incoming messages, with the smallest queues:
/// 300 messages echoed one by one, no deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_from_the_message_handler_never_deadlocks() {
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let addr = format!("127.0.0.1:{}", server.port);
    let mut tiny = ClientConfig::default();
    tiny.command_queue = 1;
    tiny.event_queue = 1;
    let (echo, mut echo_events) = connect(
        addr.clone(),
        options("echo", ProtocolVersion::V5),
        tiny.clone(),
    );
    connected(&mut echo_events).await;
    subscribe_to(&echo, &mut echo_events, "in", QoS::AtLeastOnce).await;
    let (source, mut source_events) =
        connect(addr.clone(), options("source", ProtocolVersion::V5), tiny);
    connected(&mut source_events).await;
    subscribe_to(&source, &mut source_events, "out", QoS::AtLeastOnce).await;

    const COUNT: usize = 300;
    // The echo task runs until the test ends: it must keep taking the echo client's events
    // (the completions of its own publishes too) after the last echo, or the client stops
    // reading its socket and its last publishes never get their acknowledgements.
    let echoing = tokio::spawn(async move {
        while let Some(event) = echo_events.recv().await {
            if let Event::Message(m) = event {
                let mut reply = Publish::new(MqttString::from_static("out"), m.payload);
                reply.qos = QoS::AtLeastOnce;
                echo.publish(reply).await.unwrap();
            }
        }
        panic!("echo client stopped");
    });
    let sending = {
        let source = source.clone();
        tokio::spawn(async move {
            for i in 0..COUNT {
                source
                    .publish(message("in", i.to_string(), QoS::AtLeastOnce))
                    .await
                    .unwrap();
            }
        })
    };
    let mut received = Vec::new();
    timeout(Duration::from_secs(30), async {
        while received.len() < COUNT {
            if let Some(Event::Message(m)) = source_events.recv().await {
                received.push(String::from_utf8(m.payload.to_vec()).unwrap());
            }
        }
    })
    .await
    .expect("every echo arrived: no deadlock");
    let expected: Vec<String> = (0..COUNT).map(|i| i.to_string()).collect();
    assert_eq!(received, expected, "in order");
    sending.await.unwrap();
    assert!(
        !echoing.is_finished(),
        "the echo task neither failed nor stopped"
    );
    echoing.abort();
    drop(server);
}

/// The broker goes away and comes back on the same port: the client reconnects by itself
/// (with backoff), resumes its session, and what was published meanwhile goes out then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_resumes_after_the_broker_restarts() {
    let server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let port = server.port;
    let addr = format!("127.0.0.1:{port}");
    let mut persistent = options("resumer", ProtocolVersion::V3_1_1);
    persistent.clean_start = false;
    let mut fast = ClientConfig::default();
    fast.min_backoff = Duration::from_millis(20);
    fast.max_backoff = Duration::from_millis(200);
    let (client, mut events) = connect(addr.clone(), persistent, fast);
    assert!(!connected(&mut events).await);
    // The broker stops: the client notices and keeps trying.
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
    wait_for(&mut events, |e| {
        matches!(e, Event::Disconnected(_)).then_some(())
    })
    .await;
    let id = client
        .publish(message(
            "later",
            "queued while away".into(),
            QoS::AtLeastOnce,
        ))
        .await
        .unwrap();
    // Back on the same port.
    let server = tokio::task::spawn_blocking(move || Server::start_on(port))
        .await
        .unwrap();
    let (watcher, mut watcher_events) = connect(
        addr.clone(),
        options("watcher", ProtocolVersion::V3_1_1),
        ClientConfig::default(),
    );
    connected(&mut watcher_events).await;
    subscribe_to(&watcher, &mut watcher_events, "later", QoS::AtLeastOnce).await;
    // A new broker has no session for it: session present 0, and the queued message goes.
    assert!(!connected(&mut events).await);
    let reason = wait_for(&mut events, |e| match e {
        Event::PublishCompleted {
            id: done,
            reason_code,
        } if done == id => Some(reason_code),
        _ => None,
    })
    .await;
    assert_eq!(reason, ReasonCode::Success);
    let got = wait_for(&mut watcher_events, |e| match e {
        Event::Message(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(&got.payload[..], b"queued while away");
    drop(server);
}
