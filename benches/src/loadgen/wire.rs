//! One raw MQTT 3.1.1 connection of the load generator: our codec over a tokio `TcpStream`,
//! no client state machine, so the generator costs the broker under test as little as it can.
//!
//! Publishers write whole batches of pre-encoded PUBLISH packets in one system call;
//! subscribers read up to 64 KiB at a time and answer a whole read's acknowledgements in one
//! write.

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe,
    SubscriptionOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The version the generator speaks: every broker compared supports it.
pub const VERSION: ProtocolVersion = ProtocolVersion::V3_1_1;
/// How much one read asks the socket for on a busy connection ([`Connection::busy`]).
const BUSY_READ: usize = 64 * 1024;
/// How much one read asks for on a connection that only handshakes (idle connections
/// by the thousand must not hold 64 KiB each in the generator).
const IDLE_READ: usize = 256;
/// How long the handshake packets (CONNACK, SUBACK) may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected MQTT session on a socket.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    decoder: Decoder,
    input: BytesMut,
    read_chunk: usize,
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Encodes one packet (the generator only builds valid packets).
pub fn encode(packet: &Packet, out: &mut BytesMut) {
    packet
        .encode(VERSION, out)
        .expect("the load generator builds valid packets");
}

/// Keep alive of every connection: long enough that no run needs a PINGREQ (rumqttd refuses
/// 0, "no keep alive").
const KEEP_ALIVE_SECONDS: u16 = 300;

/// A clean-session CONNECT.
fn connect_packet(client_id: &str) -> io::Result<Packet> {
    let id = MqttString::try_from(client_id).map_err(|_| protocol_error("client id"))?;
    let mut connect = Connect::new(VERSION, id);
    connect.keep_alive = KEEP_ALIVE_SECONDS;
    connect.clean_start = true;
    Ok(Packet::Connect(Box::new(connect)))
}

impl Connection {
    /// Connects and waits for a successful CONNACK.
    pub async fn open(addr: SocketAddr, client_id: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut connection = Self {
            stream,
            decoder: Decoder::new(VERSION),
            input: BytesMut::new(),
            read_chunk: IDLE_READ,
        };
        let mut out = BytesMut::new();
        encode(&connect_packet(client_id)?, &mut out);
        connection.write(&out).await?;
        match connection.expect_packet().await? {
            Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => Ok(connection),
            Packet::ConnAck(ack) => Err(protocol_error(format!(
                "connection refused: {:?}",
                ack.reason_code
            ))),
            other => Err(protocol_error(format!("expected CONNACK, got {other:?}"))),
        }
    }

    /// Sends a SUBSCRIBE to `filters` at `qos`, without waiting for the SUBACK; returns the
    /// number of filters.
    pub async fn send_subscribe(&mut self, filters: &[String], qos: QoS) -> io::Result<usize> {
        let filters = filters
            .iter()
            .map(|filter| {
                MqttString::try_from(filter.as_str())
                    .map(|filter| (filter, SubscriptionOptions::qos(qos)))
                    .map_err(|_| protocol_error("filter"))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let count = filters.len();
        let subscribe = Subscribe {
            packet_id: NonZeroU16::MIN,
            properties: Default::default(),
            filters,
        };
        let mut out = BytesMut::new();
        encode(&Packet::Subscribe(subscribe), &mut out);
        self.write(&out).await?;
        Ok(count)
    }

    /// Subscribes to `filters` at `qos` and waits for a SUBACK granting every one.
    pub async fn subscribe(&mut self, filters: &[String], qos: QoS) -> io::Result<()> {
        let count = self.send_subscribe(filters, qos).await?;
        loop {
            match self.expect_packet().await? {
                Packet::SubAck(ack)
                    if ack.reason_codes.len() == count
                        && ack.reason_codes.iter().all(|code| !code.is_error()) =>
                {
                    return Ok(())
                }
                Packet::SubAck(ack) => {
                    return Err(protocol_error(format!(
                        "subscription refused: {:?}",
                        ack.reason_codes
                    )))
                }
                // Retained messages may come before the SUBACK is read; the retained
                // scenario subscribes with `send_subscribe` and counts them itself.
                Packet::Publish(_) => {}
                other => return Err(protocol_error(format!("expected SUBACK, got {other:?}"))),
            }
        }
    }

    /// Reads up to 64 KiB at a time from now on: for connections that carry traffic.
    pub fn busy(mut self) -> Self {
        self.read_chunk = BUSY_READ;
        self
    }

    /// Writes all of `bytes` in as few system calls as the socket allows.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The next packet, reading as needed; end of stream is an error.
    pub async fn expect_packet(&mut self) -> io::Result<Packet> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            loop {
                if let Some(packet) = self.decode()? {
                    return Ok(packet);
                }
                self.fill().await?;
            }
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer from the broker"))?
    }

    /// Reads once from the socket; end of stream is an error. Cancel-safe (a `select!`
    /// branch loses no byte).
    pub async fn fill(&mut self) -> io::Result<usize> {
        self.input.reserve(self.read_chunk);
        match self.stream.read_buf(&mut self.input).await? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the broker closed the connection",
            )),
            n => Ok(n),
        }
    }

    /// The next whole packet already read, if any.
    pub fn decode(&mut self) -> io::Result<Option<Packet>> {
        self.decoder
            .decode(&mut self.input)
            .map_err(|err| protocol_error(format!("undecodable packet from the broker: {err}")))
    }
}

/// A PUBLISH encoded once, copied into batches with its packet id and timestamp patched in
/// place: the generator's per-message cost is a copy of about 90 bytes.
#[derive(Debug, Clone)]
pub struct PublishTemplate {
    bytes: Bytes,
    /// Where the packet id sits (QoS 1 and 2).
    packet_id_at: Option<usize>,
    /// Where the 8-byte send time sits: the start of the payload.
    stamp_at: usize,
}

/// The payload's first 8 bytes carry the send time (nanoseconds on the generator's clock).
pub const STAMP_LEN: usize = 8;

impl PublishTemplate {
    /// A PUBLISH of `payload_len` bytes (at least [`STAMP_LEN`]) on `topic`.
    pub fn new(topic: &str, qos: QoS, retain: bool, payload_len: usize) -> io::Result<Self> {
        let topic = MqttString::try_from(topic).map_err(|_| protocol_error("topic"))?;
        let payload_len = payload_len.max(STAMP_LEN);
        let mut publish = Publish::new(topic, Bytes::from(vec![0x5a; payload_len]));
        publish.qos = qos;
        publish.retain = retain;
        if qos != QoS::AtMostOnce {
            publish.packet_id = Some(NonZeroU16::MIN);
        }
        let mut out = BytesMut::new();
        encode(&Packet::Publish(publish), &mut out);
        let stamp_at = out.len() - payload_len;
        Ok(Self {
            packet_id_at: (qos != QoS::AtMostOnce).then(|| stamp_at - 2),
            stamp_at,
            bytes: out.freeze(),
        })
    }

    /// Appends the PUBLISH to `out` with `packet_id` (ignored at QoS 0) and `stamp`.
    pub fn put(&self, out: &mut BytesMut, packet_id: u16, stamp: u64) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        if let Some(at) = self.packet_id_at {
            out[start + at..start + at + 2].copy_from_slice(&packet_id.to_be_bytes());
        }
        out[start + self.stamp_at..start + self.stamp_at + STAMP_LEN]
            .copy_from_slice(&stamp.to_be_bytes());
    }

    /// The encoded size of one such PUBLISH.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never true: a PUBLISH has a fixed header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The send time a delivered payload carries, if it is one of ours.
pub fn stamp_of(payload: &[u8]) -> Option<u64> {
    payload
        .get(..STAMP_LEN)
        .map(|bytes| u64::from_be_bytes(bytes.try_into().expect("8 bytes")))
}

/// Appends a four-byte acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) for `packet_id`.
pub fn put_ack(out: &mut BytesMut, first_byte: u8, packet_id: u16) {
    out.put_u8(first_byte);
    out.put_u8(2);
    out.put_u16(packet_id);
}

/// First bytes of the four acknowledgements (PUBREL has its reserved flags 0b0010).
pub const PUBACK: u8 = 0x40;
/// PUBREC's first byte.
pub const PUBREC: u8 = 0x50;
/// PUBREL's first byte [MQTT-3.6.1-1].
pub const PUBREL: u8 = 0x62;
/// PUBCOMP's first byte.
pub const PUBCOMP: u8 = 0x70;
