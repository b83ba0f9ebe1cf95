//! The journal's on-disk framing: a file header, then records framed as
//! `[len: u32 LE][crc32(payload): u32 LE][payload: len bytes of JSON]`.
//!
//! Crash safety by construction: a record is only ever appended, and it counts only if its
//! whole frame is present and its checksum matches. Reading stops at the first frame that
//! is short or fails its checksum (a torn last write); the caller reports it and truncates
//! the file there, so the next append starts on a clean boundary. A torn record is never
//! misread: a length that runs past the end, or a checksum mismatch, is never parsed.

/// First bytes of every journal file (format version 1).
pub const MAGIC: &[u8; 8] = b"PAJRNL1\n";
/// Bytes of a frame header (length + checksum).
pub const HEADER: usize = 8;
/// Largest payload accepted when reading (a length above it is damage, not a record).
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3, the zlib polynomial).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// One framed record, ready to append.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Where and why reading stopped before the end of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// Offset of the first byte not accepted (the file is valid up to here).
    pub offset: u64,
    /// Bytes ignored from `offset` to the end.
    pub bytes: u64,
    pub reason: &'static str,
}

/// The payloads of every whole, checksummed frame of `data` (which starts after the
/// magic, at file offset `base`), and the torn tail if any.
pub fn decode(data: &[u8], base: u64) -> (Vec<&[u8]>, Option<Torn>) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let torn = |pos: usize, reason| {
        Some(Torn {
            offset: base + pos as u64,
            bytes: (data.len() - pos) as u64,
            reason,
        })
    };
    while pos < data.len() {
        if data.len() - pos < HEADER {
            return (out, torn(pos, "short frame header"));
        }
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap_or([0; 4])) as usize;
        let sum = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap_or([0; 4]));
        if len > MAX_PAYLOAD {
            return (out, torn(pos, "implausible record length"));
        }
        if data.len() - pos - HEADER < len {
            return (out, torn(pos, "record shorter than its length"));
        }
        let payload = &data[pos + HEADER..pos + HEADER + len];
        if crc32(payload) != sum {
            return (out, torn(pos, "checksum mismatch"));
        }
        out.push(payload);
        pos += HEADER + len;
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_never_read() {
        let mut data = encode(b"{\"a\":1}");
        data.extend(encode(b"{\"b\":2}"));
        let whole = data.len();
        let (recs, torn) = decode(&data, 8);
        assert_eq!(recs, vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
        assert_eq!(torn, None);
        for cut in 1..(whole - 15) {
            let (recs, torn) = decode(&data[..whole - cut], 8);
            assert_eq!(recs, vec![&b"{\"a\":1}"[..]], "cut {cut}");
            let t = torn.expect("torn tail reported");
            assert_eq!(t.offset, 8 + 15);
        }
        // a flipped payload byte fails the checksum
        let mut bad = data.clone();
        bad[whole - 2] ^= 0x20;
        let (recs, torn) = decode(&bad, 0);
        assert_eq!(recs.len(), 1);
        assert_eq!(torn.unwrap().reason, "checksum mismatch");
        // a huge length is damage, not an allocation
        let mut huge = vec![0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0];
        huge.extend_from_slice(b"xx");
        assert_eq!(
            decode(&huge, 0).1.unwrap().reason,
            "implausible record length"
        );
    }
}
