//! The tokio broker over loopback, with raw MQTT clients built on the codec: bytes really go
//! through sockets, tasks and the core. Every step is bounded by a timeout.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use examples::broker::serve;
use mqtt_broker_core::Config;
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishAck, QoS,
    ReasonCode, Subscribe, SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;

const STEP: Duration = Duration::from_secs(5);

struct RawClient {
    stream: TcpStream,
    version: ProtocolVersion,
    decoder: Decoder,
    input: BytesMut,
}

impl RawClient {
    async fn connect(port: u16, id: &str, version: ProtocolVersion) -> Self {
        let stream = timeout(STEP, TcpStream::connect(("127.0.0.1", port)))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut client = Self {
            stream,
            version,
            decoder: Decoder::new(version),
            input: BytesMut::new(),
        };
        let mut connect = Connect::new(version, MqttString::try_from(id).unwrap());
        connect.keep_alive = 30;
        client.send(Packet::Connect(Box::new(connect))).await;
        match client.recv().await {
            Packet::ConnAck(connack) => assert_eq!(connack.reason_code, ReasonCode::Success),
            other => panic!("expected CONNACK, got {other:?}"),
        }
        client
    }

    async fn send(&mut self, packet: Packet) {
        let mut wire = BytesMut::new();
        packet.encode(self.version, &mut wire).unwrap();
        timeout(STEP, self.stream.write_all(&wire))
            .await
            .expect("write in time")
            .expect("write");
    }

    /// The next packet, or `None` when the broker closed the connection.
    async fn try_recv(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).expect("valid packet") {
                return Some(packet);
            }
            let n = timeout(STEP, self.stream.read_buf(&mut self.input))
                .await
                .expect("read in time")
                .expect("read");
            if n == 0 {
                return None;
            }
        }
    }

    async fn recv(&mut self) -> Packet {
        self.try_recv().await.expect("connection open")
    }
}

async fn start(config: Config) -> (u16, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (port, stop, server)
}

fn quiet() -> Config {
    let mut config = Config::default();
    config.sys_interval = None;
    config
}

#[tokio::test]
async fn qos1_message_crosses_the_broker_between_versions() {
    let (port, stop, server) = start(quiet()).await;
    let mut sub = RawClient::connect(port, "sub", ProtocolVersion::V5).await;
    sub.send(Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(1).unwrap(),
        properties: Default::default(),
        filters: vec![(
            MqttString::from_static("home/#"),
            SubscriptionOptions::qos(QoS::AtLeastOnce),
        )],
    }))
    .await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));

    let mut publisher = RawClient::connect(port, "pub", ProtocolVersion::V3_1_1).await;
    let mut publish = Publish::new(
        MqttString::from_static("home/hall/temp"),
        Bytes::from_static(b"21.5"),
    );
    publish.qos = QoS::AtLeastOnce;
    publish.packet_id = PacketId::new(7);
    publisher.send(Packet::Publish(publish)).await;
    assert_eq!(
        publisher.recv().await,
        Packet::PubAck(PublishAck::new(PacketId::new(7).unwrap()))
    );
    match sub.recv().await {
        Packet::Publish(p) => {
            assert_eq!(p.topic, "home/hall/temp");
            assert_eq!(&p.payload[..], b"21.5");
            assert_eq!(p.qos, QoS::AtLeastOnce);
            sub.send(Packet::PubAck(PublishAck::new(p.packet_id.unwrap())))
                .await;
        }
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}

/// Many messages in one write and a subscriber that reads them all: order kept, nothing
/// lost, the write buffer refilled as the writer task drains it [MQTT-4.6.0-6].
#[tokio::test]
async fn a_burst_arrives_whole_and_in_order() {
    let (port, stop, server) = start(quiet()).await;
    let mut sub = RawClient::connect(port, "sub", ProtocolVersion::V3_1_1).await;
    sub.send(Packet::Subscribe(Subscribe {
        packet_id: PacketId::new(1).unwrap(),
        properties: Default::default(),
        filters: vec![(
            MqttString::from_static("burst"),
            SubscriptionOptions::default(),
        )],
    }))
    .await;
    assert!(matches!(sub.recv().await, Packet::SubAck(_)));
    let mut publisher = RawClient::connect(port, "pub", ProtocolVersion::V3_1_1).await;
    let mut wire = BytesMut::new();
    const COUNT: usize = 5_000;
    for i in 0..COUNT {
        let publish = Publish::new(MqttString::from_static("burst"), Bytes::from(i.to_string()));
        Packet::Publish(publish)
            .encode(ProtocolVersion::V3_1_1, &mut wire)
            .unwrap();
    }
    timeout(STEP, publisher.stream.write_all(&wire))
        .await
        .unwrap()
        .unwrap();
    for i in 0..COUNT {
        match sub.recv().await {
            Packet::Publish(p) => assert_eq!(p.payload, Bytes::from(i.to_string())),
            other => panic!("expected PUBLISH {i}, got {other:?}"),
        }
    }
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}

/// Stopping the server tells v5 clients why (DISCONNECT 0x8B Server shutting down) and
/// publishes the wills of the clients it closes [MQTT-3.1.2-8].
#[tokio::test]
async fn shutdown_sends_disconnect_to_v5_clients() {
    let (port, stop, server) = start(quiet()).await;
    let mut client = RawClient::connect(port, "v5", ProtocolVersion::V5).await;
    stop.send(()).unwrap();
    match client.recv().await {
        Packet::Disconnect(d) => assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert_eq!(client.try_recv().await, None, "then the socket closes");
    timeout(STEP, server).await.unwrap().unwrap();
}

/// A client that sends garbage is closed; another client is not affected [MQTT-4.8.0-1].
#[tokio::test]
async fn garbage_closes_only_its_connection() {
    let (port, stop, server) = start(quiet()).await;
    let mut good = RawClient::connect(port, "good", ProtocolVersion::V3_1_1).await;
    let mut bad = RawClient::connect(port, "bad", ProtocolVersion::V3_1_1).await;
    timeout(STEP, bad.stream.write_all(&[0x36, 0x00]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bad.try_recv().await, None, "closed");
    good.send(Packet::PingReq).await;
    assert_eq!(good.recv().await, Packet::PingResp);
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}

/// `max_connections`: one connection beyond the limit is closed at once; the others go on.
#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = examples::broker::ServerOptions {
        max_connections: Some(1),
    };
    let server = tokio::spawn(async move {
        examples::broker::serve_all(vec![listener], quiet(), options, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let mut first = RawClient::connect(port, "first", ProtocolVersion::V3_1_1).await;
    let mut second = timeout(STEP, TcpStream::connect(("127.0.0.1", port)))
        .await
        .unwrap()
        .unwrap();
    let mut buf = [0u8; 8];
    let n = timeout(STEP, second.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the second connection is closed without a byte");
    first.send(Packet::PingReq).await;
    assert_eq!(first.recv().await, Packet::PingResp);
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}

/// A client that publishes QoS 1 without ever reading its PUBACKs is paused (the broker
/// stops reading it, `Broker::wants_read`) instead of having its answers buffered without
/// bound: its writes stall. Once it reads, it goes on.
#[tokio::test]
async fn a_client_that_does_not_read_is_paused() {
    let mut config = quiet();
    config.max_pending_write_bytes = 64;
    let (port, stop, server) = start(config).await;
    let mut greedy = RawClient::connect(port, "greedy", ProtocolVersion::V3_1_1).await;
    let mut chunk = BytesMut::new();
    for id in 1..=1000u16 {
        let mut publish = Publish::new(MqttString::from_static("nobody"), Bytes::from_static(b"x"));
        publish.qos = QoS::AtLeastOnce;
        publish.packet_id = PacketId::new(id);
        Packet::Publish(publish)
            .encode(ProtocolVersion::V3_1_1, &mut chunk)
            .unwrap();
    }
    // At most 64 MiB: far more than any socket buffers hold.
    let mut written = 0usize;
    let stalled = loop {
        match timeout(Duration::from_millis(500), greedy.stream.write_all(&chunk)).await {
            Ok(result) => {
                result.unwrap();
                written += chunk.len();
                assert!(written < 64 << 20, "never paused after {written} bytes");
            }
            Err(_) => break true,
        }
    };
    assert!(stalled);
    // Reading the answers lets it go on: PUBACKs arrive.
    assert!(matches!(greedy.recv().await, Packet::PubAck(_)));
    stop.send(()).unwrap();
    let _ = timeout(STEP, server).await;
}

/// Handles are reused: a connection the broker closed (its reader reporting the close
/// late) must never take down the next connection in the same slot. Many short
/// connections, each followed at once by one that must stay up.
#[tokio::test]
async fn a_closed_connection_never_takes_down_the_next_one() {
    let (port, stop, server) = start(quiet()).await;
    for round in 0..200 {
        let mut short = RawClient::connect(port, "short", ProtocolVersion::V3_1_1).await;
        short.send(Packet::Disconnect(Default::default())).await;
        // The broker has closed it and freed its slot; its reader sees the end of the stream
        // only now, while the next connection may be taking the slot.
        assert_eq!(short.try_recv().await, None, "the short one is closed");
        drop(short);
        let mut next = RawClient::connect(port, "next", ProtocolVersion::V3_1_1).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
        next.send(Packet::PingReq).await;
        assert_eq!(
            next.try_recv().await,
            Some(Packet::PingResp),
            "round {round}: the next connection was closed"
        );
        next.send(Packet::Disconnect(Default::default())).await;
    }
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}
