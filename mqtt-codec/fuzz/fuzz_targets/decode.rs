//! Arbitrary bytes into the streaming decoder, for every version; whatever decodes must
//! re-encode and decode to the same packet.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_codec::{Decoder, ProtocolVersion};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let mut decoder = match selector % 4 {
        0 => Decoder::for_server(),
        1 => Decoder::new(ProtocolVersion::V3_1),
        2 => Decoder::new(ProtocolVersion::V3_1_1),
        _ => Decoder::new(ProtocolVersion::V5),
    }
    .with_max_packet_size(1 << 16);
    let mut buf = BytesMut::from(stream);
    while let Ok(Some(packet)) = decoder.decode(&mut buf) {
        let version = decoder.version().expect("a decoded packet fixes the version");
        let mut wire = BytesMut::new();
        packet.encode(version, &mut wire).expect("a decoded packet re-encodes");
        assert_eq!(wire.len(), packet.encoded_len(version));
        let mut again = Decoder::new(version);
        assert_eq!(again.decode(&mut wire), Ok(Some(packet)));
    }
});
