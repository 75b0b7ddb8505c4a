//! Reading and writing the fixed-size fields of a packet body.

use bytes::{Buf, BufMut, Bytes};

use crate::error::{DecodeError, EncodeError};
use crate::qos::PacketId;

pub(crate) fn read_u8(buf: &mut Bytes) -> Result<u8, DecodeError> {
    if buf.is_empty() {
        return Err(DecodeError::Truncated);
    }
    Ok(buf.get_u8())
}

pub(crate) fn read_u16(buf: &mut Bytes) -> Result<u16, DecodeError> {
    if buf.len() < 2 {
        return Err(DecodeError::Truncated);
    }
    Ok(buf.get_u16())
}

/// A packet identifier, which must not be 0 [MQTT-2.3.1-1].
pub(crate) fn read_packet_id(buf: &mut Bytes) -> Result<PacketId, DecodeError> {
    PacketId::new(read_u16(buf)?).ok_or(DecodeError::ZeroPacketId)
}

/// Binary data: a two-byte length and that many bytes, sliced from the input (v5 1.5.6).
pub(crate) fn read_binary(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = usize::from(read_u16(buf)?);
    if buf.len() < len {
        return Err(DecodeError::Truncated);
    }
    Ok(buf.split_to(len))
}

pub(crate) fn binary_len(data: &Bytes) -> usize {
    2 + data.len()
}

pub(crate) fn check_binary(data: &Bytes) -> Result<(), EncodeError> {
    if data.len() > usize::from(u16::MAX) {
        return Err(EncodeError::BinaryTooLong(data.len()));
    }
    Ok(())
}

/// Writes binary data whose length was checked by [`check_binary`].
pub(crate) fn write_binary(buf: &mut impl BufMut, data: &[u8]) {
    buf.put_u16(data.len() as u16);
    buf.put_slice(data);
}

/// How many length-prefixed strings, each followed by `trailer` bytes, `body` holds: a
/// capacity hint for the list a SUBSCRIBE or UNSUBSCRIBE decodes into, so it is allocated
/// once. A malformed tail ends the count; the decoder reports it.
pub(crate) fn count_prefixed(mut body: &[u8], trailer: usize) -> usize {
    let mut count = 0;
    while let [high, low, rest @ ..] = body {
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        body = rest.get(len + trailer..).unwrap_or_default();
        count += 1;
    }
    count
}

/// Fails with [`DecodeError::TrailingBytes`] when a body has bytes after its last field.
pub(crate) fn expect_end(buf: &Bytes) -> Result<(), DecodeError> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::TrailingBytes(buf.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::count_prefixed;

    #[test]
    fn counts_strings_and_stops_at_a_malformed_tail() {
        assert_eq!(count_prefixed(b"", 1), 0);
        assert_eq!(count_prefixed(b"\x00\x01a\x01\x00\x02bc\x02", 1), 2);
        assert_eq!(count_prefixed(b"\x00\x01a\x00\x02bc", 0), 2);
        // A length running past the end counts once and ends the scan.
        assert_eq!(count_prefixed(b"\x00\x01a\x01\xff\xff", 1), 2);
        assert_eq!(count_prefixed(b"\x00", 1), 0);
    }
}
