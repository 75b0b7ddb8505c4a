//! The streaming decoder: frames packets out of a growing receive buffer.

use bytes::{Buf, BytesMut};

use crate::error::DecodeError;
use crate::fixed_header::{FixedHeader, PacketType};
use crate::packet::{announced_version, Packet};
use crate::version::ProtocolVersion;

/// The largest packet MQTT can frame: a 5-byte fixed header and 268,435,455 bytes.
pub const DEFAULT_MAX_PACKET_SIZE: u32 = 268_435_460;

/// How far ahead of the received bytes the decoder reserves buffer space for a packet.
const RESERVE_LIMIT: usize = 64 * 1024;

/// Frames and decodes packets from a receive buffer that grows as bytes arrive.
///
/// A server creates it with [`Decoder::for_server`]: the protocol version is unknown until the
/// first packet, which must be a CONNECT [MQTT-3.1.0-1], sets it. A client creates it with
/// [`Decoder::new`] and the version it connects with. A server should set the maximum packet
/// size it is willing to buffer ([`Decoder::with_max_packet_size`]); the default is the
/// largest packet MQTT can frame.
///
/// The decoder checks what a packet is, not who may send it: a CONNACK arriving at a server,
/// or a Subscription Identifier in a client's PUBLISH [MQTT-3.3.4-6], are rules of the
/// broker and client cores.
///
/// ```
/// use bytes::{Buf, BytesMut};
/// use mqtt_codec::{DecodeError, Decoder, Packet, ProtocolVersion};
///
/// let mut decoder = Decoder::for_server().with_max_packet_size(1024);
/// let mut buf = BytesMut::from(&b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c"[..]);
/// assert_eq!(decoder.decode(&mut buf), Ok(None)); // client id not received yet
/// buf.extend_from_slice(b"\x00\x00");
/// assert!(matches!(decoder.decode(&mut buf), Ok(Some(Packet::Connect(_)))));
/// assert_eq!(decoder.version(), Some(ProtocolVersion::V3_1_1));
///
/// // A PUBLISH announcing 2 MiB is refused from its fixed header alone.
/// let mut buf = BytesMut::from(&b"\x30\x80\x80\x80\x01"[..]);
/// assert!(matches!(decoder.decode(&mut buf), Err(DecodeError::PacketTooLarge { .. })));
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    version: Option<ProtocolVersion>,
    max_packet_size: u32,
    /// The first error, returned again by every later call: the stream is lost.
    failed: Option<DecodeError>,
}

impl Decoder {
    /// A decoder for a connection known to speak `version` (the client side).
    pub const fn new(version: ProtocolVersion) -> Self {
        Self {
            version: Some(version),
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            failed: None,
        }
    }

    /// A decoder for a server connection: the first packet's CONNECT sets the version.
    pub const fn for_server() -> Self {
        Self {
            version: None,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            failed: None,
        }
    }

    /// Sets the largest whole packet (fixed header included) this side accepts, the value
    /// an MQTT 5 peer announces as Maximum Packet Size.
    pub const fn with_max_packet_size(mut self, max_packet_size: u32) -> Self {
        self.max_packet_size = max_packet_size;
        self
    }

    /// The protocol version, once known. A server decoder learns it from the CONNECT's
    /// protocol name and level, even when the rest of that CONNECT fails to decode, so the
    /// server can answer in the client's version: a CONNACK with the error's reason code for
    /// MQTT 5, a bare close for a malformed 3.1.1 CONNECT [MQTT-3.1.4-1].
    pub const fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// Sets the protocol version (a client that learns it, or a test).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = Some(version);
    }

    /// The configured maximum packet size.
    pub const fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Decodes the next packet from the front of `buf`.
    ///
    /// - `Ok(None)`: the packet is incomplete; nothing is consumed. Once the fixed header is
    ///   known, `buf` is reserved up to the packet's size so the next read fills it.
    /// - `Ok(Some(packet))`: the packet's bytes are split off `buf` (no copy) and its fields
    ///   slice them.
    /// - `Err(_)`: the stream is invalid; the connection must be closed (with
    ///   [`DecodeError::reason_code`] in MQTT 5). A packet larger than the maximum packet size
    ///   is refused as soon as its fixed header is read, before its body is buffered.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let header = match FixedHeader::parse(buf, self.version) {
            Ok(Some(header)) => header,
            Ok(None) => return Ok(None),
            Err(err) => return Err(self.fail(err)),
        };
        // Before the version is known only a CONNECT may come [MQTT-3.1.0-1]: refuse anything
        // else from its header, before buffering a body.
        if self.version.is_none() && header.packet_type() != PacketType::Connect {
            return Err(self.fail(DecodeError::ConnectExpected));
        }
        let packet_len = header.header_len() as u64 + u64::from(header.remaining_length());
        if packet_len > u64::from(self.max_packet_size) {
            return Err(self.fail(DecodeError::PacketTooLarge {
                size: packet_len,
                max: self.max_packet_size,
            }));
        }
        let packet_len = header.packet_len();
        if buf.len() < packet_len {
            // Room for the rest of the packet, but never more than RESERVE_LIMIT ahead of
            // what has arrived: a header alone must not make a peer allocate megabytes.
            buf.reserve((packet_len - buf.len()).min(RESERVE_LIMIT));
            return Ok(None);
        }
        let mut body = buf.split_to(packet_len).freeze();
        body.advance(header.header_len());
        if self.version.is_none() {
            self.version = announced_version(&body);
        }
        match Packet::decode(&header, body, self.version) {
            Ok(packet) => Ok(Some(packet)),
            Err(err) => Err(self.fail(err)),
        }
    }

    /// Records the first error: the stream position is lost, so every later call returns it.
    /// Kept out of line so the success path does not carry the bookkeeping.
    #[cold]
    fn fail(&mut self, err: DecodeError) -> DecodeError {
        self.failed = Some(err.clone());
        err
    }
}
