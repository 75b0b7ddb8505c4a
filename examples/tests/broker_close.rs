//! How the broker adapter ends connections and keeps moving bytes under concurrency, over
//! loopback on a two-thread runtime (the core task and the connection tasks really race):
//! a client that stops reading cannot hold its connection after the core closed it, a
//! shutdown closes every socket, and round trips never stall.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use examples::broker::{serve_all, ServerOptions};
use mqtt_broker_core::Config;
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;

const VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;
/// The most any single step may take.
const STEP: Duration = Duration::from_secs(5);

fn encode(packet: Packet) -> BytesMut {
    let mut out = BytesMut::new();
    packet.encode(VERSION, &mut out).unwrap();
    out
}

fn connect(id: &str, keep_alive: u16) -> BytesMut {
    let mut connect = Connect::new(VERSION, MqttString::try_from(id).unwrap());
    connect.keep_alive = keep_alive;
    encode(Packet::Connect(Box::new(connect)))
}

/// A raw client: a socket, its decoder and what it read so far.
struct Raw {
    stream: TcpStream,
    decoder: Decoder,
    input: BytesMut,
}

impl Raw {
    async fn connect(port: u16, id: &str, keep_alive: u16, receive_buffer: Option<u32>) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
        let mut raw = Self {
            stream,
            decoder: Decoder::new(VERSION),
            input: BytesMut::new(),
        };
        raw.send(connect(id, keep_alive)).await;
        assert!(matches!(raw.next().await, Some(Packet::ConnAck(_))));
        raw
    }

    async fn send(&mut self, bytes: BytesMut) {
        timeout(STEP, self.stream.write_all(&bytes))
            .await
            .expect("written in time")
            .unwrap();
    }

    /// The next packet; `None` at the end of the stream.
    async fn next(&mut self) -> Option<Packet> {
        loop {
            if let Some(packet) = self.decoder.decode(&mut self.input).unwrap() {
                return Some(packet);
            }
            match timeout(STEP, self.stream.read_buf(&mut self.input))
                .await
                .expect("an answer in time")
            {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    async fn subscribe(&mut self, filter: &'static str) {
        self.send(encode(Packet::Subscribe(Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: Default::default(),
            filters: vec![(
                MqttString::from_static(filter),
                SubscriptionOptions::default(),
            )],
        })))
        .await;
        assert!(matches!(self.next().await, Some(Packet::SubAck(_))));
    }

    /// Reads and drops everything until the broker closes the connection; false if it
    /// did not within `STEP` of quiet.
    async fn read_to_end(&mut self) -> bool {
        let mut sink = vec![0u8; 64 * 1024];
        loop {
            match timeout(STEP, self.stream.read(&mut sink)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    }
}

fn quiet() -> Config {
    let mut config = Config::default();
    config.sys_interval = None;
    config
}

async fn start(
    config: Config,
    max_connections: Option<usize>,
) -> (u16, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    let options = ServerOptions { max_connections };
    let server = tokio::spawn(async move {
        serve_all(vec![listener], config, options, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (port, stop, server)
}

/// A subscriber with a 4 KiB receive buffer that stops reading, and 16 MiB of QoS 0
/// messages for it: its socket and the broker's buffer for it fill up.
async fn stuck_subscriber(port: u16, keep_alive: u16) -> (Raw, Raw) {
    let mut subscriber = Raw::connect(port, "stuck", keep_alive, Some(4096)).await;
    subscriber.subscribe("t").await;
    let mut publisher = Raw::connect(port, "flood", 60, None).await;
    let mut chunk = BytesMut::new();
    for _ in 0..64 {
        let publish = Publish::new(
            MqttString::from_static("t"),
            Bytes::from(vec![b'x'; 16 * 1024]),
        );
        Packet::Publish(publish)
            .encode(VERSION, &mut chunk)
            .unwrap();
    }
    for _ in 0..16 {
        publisher.send(chunk.clone()).await;
    }
    // The broker read it all: the flood is in the subscriber's queue and buffers.
    publisher.send(encode(Packet::PingReq)).await;
    assert_eq!(publisher.next().await, Some(Packet::PingResp));
    (subscriber, publisher)
}

/// The keep alive closes a client that stopped reading [MQTT-3.1.2-24]; its last bytes
/// can never be written, and after a grace period its socket is closed anyway, so its
/// `max_connections` slot comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closed_while_not_reading_frees_its_slot() {
    let (port, stop, server) = start(quiet(), Some(2)).await;
    let (mut stuck, _publisher) = stuck_subscriber(port, 1).await;
    // Keep alive 1 s: closed at 1.5 s; its last bytes get 2 s more.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let third = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut third = Raw {
        stream: third,
        decoder: Decoder::new(VERSION),
        input: BytesMut::new(),
    };
    third.send(connect("third", 60)).await;
    assert!(
        matches!(third.next().await, Some(Packet::ConnAck(_))),
        "the stuck client's slot was freed"
    );
    assert!(stuck.read_to_end().await, "its socket was closed");
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}

/// A shutdown that cannot deliver its last bytes to a client still closes its socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_a_client_that_does_not_read() {
    let (port, stop, server) = start(quiet(), None).await;
    let (mut stuck, _publisher) = stuck_subscriber(port, 0).await;
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
    assert!(stuck.read_to_end().await, "closed after the shutdown");
}

/// Many clients in ping round trips at once: a lost wake-up between the core task and a
/// connection's task shows as a round trip that never ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_round_trips_never_stall() {
    let (port, stop, server) = start(quiet(), None).await;
    let clients: Vec<_> = (0..50)
        .map(|i| {
            tokio::spawn(async move {
                let mut client = Raw::connect(port, &format!("c{i}"), 60, None).await;
                for round in 0..100 {
                    client.send(encode(Packet::PingReq)).await;
                    assert_eq!(
                        client.next().await,
                        Some(Packet::PingResp),
                        "client {i}, round {round}"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}

/// A client paused because it did not read its acknowledgements gets every one of them
/// once it reads: nothing acknowledged is lost, reading resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_client_gets_every_ack_once_it_reads() {
    let mut config = quiet();
    config.max_pending_write_bytes = 64;
    let (port, stop, server) = start(config, None).await;
    let client = Raw::connect(port, "greedy", 60, None).await;
    let Raw {
        stream,
        mut decoder,
        mut input,
    } = client;
    let (mut read, mut write) = stream.into_split();
    const TOTAL: u32 = 50_000;
    let writer = tokio::spawn(async move {
        let mut chunk = BytesMut::new();
        for i in 0..TOTAL {
            let mut publish =
                Publish::new(MqttString::from_static("nobody"), Bytes::from_static(b"x"));
            publish.qos = QoS::AtLeastOnce;
            publish.packet_id = PacketId::new((i % 65_535 + 1) as u16);
            Packet::Publish(publish)
                .encode(VERSION, &mut chunk)
                .unwrap();
        }
        timeout(Duration::from_secs(20), write.write_all(&chunk))
            .await
            .unwrap()
            .unwrap();
        write
    });
    // Not reading at first: the broker pauses this client.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut acks = 0;
    while acks < TOTAL {
        if let Some(packet) = decoder.decode(&mut input).unwrap() {
            assert!(matches!(packet, Packet::PubAck(_)), "{packet:?}");
            acks += 1;
            continue;
        }
        let read = timeout(STEP, read.read_buf(&mut input))
            .await
            .expect("acknowledgements in time")
            .unwrap();
        assert!(read > 0, "closed after {acks} acknowledgements");
    }
    let _write = writer.await.unwrap();
    stop.send(()).unwrap();
    timeout(STEP, server).await.unwrap().unwrap();
}
