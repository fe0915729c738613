//! Gzip of what the table keeps in binary attributes: findings chunks, running images'
//! vulnerability lists, VEX rules and threat feeds. All of it is written by this service.

use std::io::{Read, Write};

/// `bytes` compressed, in memory.
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory succeeds");
    encoder.finish().expect("writing to memory succeeds")
}

/// What `compress` made of it; an error names what is wrong with a damaged stream.
pub fn decompress(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(compressed).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_is_compressed_reads_back_and_damage_is_an_error() {
        let text = b"{\"pairs\": []}".repeat(100);
        let compressed = super::compress(&text);
        assert!(compressed.len() < text.len());
        assert_eq!(super::decompress(&compressed).unwrap(), text);
        assert!(super::decompress(&compressed[..compressed.len() / 2]).is_err());
    }
}
