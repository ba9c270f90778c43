//! The gRPC codec of `firstline.v1`: prost's, with one check before decoding. A message may
//! be small on the wire yet huge once decoded (4 MiB of empty findings is two million
//! structs, ~257 MB): counts that have a limit are read off the raw bytes first, and a
//! message over one is refused without allocating anything.

use std::marker::PhantomData;

use prost::Message;
use prost::bytes::Buf;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};

/// Findings one `FindingBatch` may hold (the collector's limit; agents send at most 100).
pub const MAX_FINDINGS_PER_BATCH: usize = 1000;

/// What may be checked on a message's bytes before it is decoded.
pub trait WireBounds {
    /// `Err` names the limit the encoded message breaks.
    fn check_wire(_bytes: &[u8]) -> Result<(), Status> {
        Ok(())
    }
}

impl WireBounds for crate::v1::EnrollRequest {}
impl WireBounds for crate::v1::EnrollResponse {}
impl WireBounds for crate::v1::CollectorMessage {}

impl WireBounds for crate::v1::AgentMessage {
    /// `AgentMessage.findings` (field 3) holds a `FindingBatch` whose `findings` (field 1)
    /// are counted — across every occurrence of field 3, since decoding merges them into one
    /// batch.
    fn check_wire(bytes: &[u8]) -> Result<(), Status> {
        let malformed = || Status::invalid_argument("the message is not valid protobuf");
        let mut findings = 0usize;
        for field in Fields(bytes) {
            let (number, value) = field.ok_or_else(malformed)?;
            if number == 3
                && let Some(batch) = value
            {
                for field in Fields(batch) {
                    let (number, _) = field.ok_or_else(malformed)?;
                    if number == 1 {
                        findings += 1;
                        if findings > MAX_FINDINGS_PER_BATCH {
                            return Err(Status::invalid_argument(format!(
                                "a batch of more than {MAX_FINDINGS_PER_BATCH} findings exceeds the limit of {MAX_FINDINGS_PER_BATCH}"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The top-level fields of an encoded message: (number, the bytes of a length-delimited
/// value); `None` on bytes that do not parse.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Option<(u64, Option<&'a [u8]>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let parsed = (|| {
            let key = varint(&mut self.0)?;
            let value = match key & 7 {
                0 => {
                    varint(&mut self.0)?;
                    None
                }
                1 => {
                    self.0 = self.0.get(8..)?;
                    None
                }
                2 => {
                    let length = usize::try_from(varint(&mut self.0)?).ok()?;
                    let value = self.0.get(..length)?;
                    self.0 = &self.0[length..];
                    Some(value)
                }
                5 => {
                    self.0 = self.0.get(4..)?;
                    None
                }
                _ => return None,
            };
            Some((key >> 3, value))
        })();
        if parsed.is_none() {
            // Stop after the first error.
            self.0 = &[];
        }
        Some(parsed)
    }
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in 0..10 {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << (shift * 7);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// prost's codec with [`WireBounds`] checked before each decode.
#[derive(Debug, Clone)]
pub struct BoundedCodec<T, U> {
    inner: tonic_prost::ProstCodec<T, U>,
}

impl<T, U> Default for BoundedCodec<T, U> {
    fn default() -> Self {
        Self {
            inner: tonic_prost::ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for BoundedCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + WireBounds + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <tonic_prost::ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = BoundedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        BoundedDecoder {
            inner: self.inner.decoder(),
            _message: PhantomData,
        }
    }
}

#[derive(Debug)]
pub struct BoundedDecoder<U> {
    inner: tonic_prost::ProstDecoder<U>,
    _message: PhantomData<U>,
}

impl<U: Message + Default + WireBounds> Decoder for BoundedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // A decode buffer is one contiguous slice of exactly the message.
        U::check_wire(buf.chunk())?;
        self.inner.decode(buf)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1 as pb;

    fn batch(findings: usize) -> Vec<u8> {
        pb::AgentMessage {
            body: Some(pb::agent_message::Body::Findings(pb::FindingBatch {
                findings: vec![pb::Finding::default(); findings],
            })),
        }
        .encode_to_vec()
    }

    #[test]
    fn batches_are_counted_on_the_wire_and_other_messages_pass() {
        assert!(pb::AgentMessage::check_wire(&batch(1000)).is_ok());
        let refused = pb::AgentMessage::check_wire(&batch(1001)).expect_err("over");
        assert!(refused.message().contains("1000"), "{refused:?}");
        // Two million empty findings in 4 MiB: refused, reading only the keys.
        let refused = pb::AgentMessage::check_wire(&batch(2_000_000)).expect_err("over");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        // Split over repeated occurrences of the field, which decoding merges into one batch.
        let split: Vec<u8> = std::iter::repeat_n(batch(600), 2).flatten().collect();
        let merged = match pb::AgentMessage::decode(split.as_slice()).map(|m| m.body) {
            Ok(Some(pb::agent_message::Body::Findings(batch))) => batch.findings.len(),
            other => panic!("{other:?}"),
        };
        assert_eq!(merged, 1200, "decoding merges the occurrences");
        assert!(pb::AgentMessage::check_wire(&split).is_err());
        let heartbeat = pb::AgentMessage {
            body: Some(pb::agent_message::Body::Heartbeat(pb::Heartbeat::default())),
        }
        .encode_to_vec();
        assert!(pb::AgentMessage::check_wire(&heartbeat).is_ok());
        let hello = crate::v1::AgentMessage {
            body: Some(pb::agent_message::Body::Hello(pb::Hello {
                protocol_version: 1,
                agent_version: "1.0".to_owned(),
                last_sequence: u64::MAX,
                acked_sequence: u64::MAX,
                config_version: "0123456789ab".to_owned(),
            })),
        }
        .encode_to_vec();
        assert!(pb::AgentMessage::check_wire(&hello).is_ok());
        for garbage in [&[0xff_u8; 12][..], &[0x1a, 0x7f], &[0x1a, 0x02, 0x0a]] {
            assert!(
                pb::AgentMessage::check_wire(garbage).is_err(),
                "{garbage:?}"
            );
        }
    }
}
