//! The little-endian, length-prefixed encoding of saved live states.

use std::io::{self, Read, Write};

/// Writes `v` as 8 little-endian bytes.
pub(crate) fn put_u64(w: &mut impl Write, v: u64) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

/// Writes `v` as 8 little-endian bytes.
pub(crate) fn put_i64(w: &mut impl Write, v: i64) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

/// Writes `bytes` after their length.
pub(crate) fn put_bytes(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    put_u64(w, bytes.len() as u64)?;
    w.write_all(bytes)
}

/// Reads what [`put_u64`] wrote.
pub(crate) fn get_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Reads what [`put_i64`] wrote.
pub(crate) fn get_i64(r: &mut impl Read) -> io::Result<i64> {
    Ok(get_u64(r)? as i64)
}

/// Reads 4 little-endian bytes.
pub(crate) fn get_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// A length read from the file, refused when it cannot be real (a damaged
/// file must not make us allocate without bound).
pub(crate) fn get_len(r: &mut impl Read, limit: u64) -> io::Result<usize> {
    let n = get_u64(r)?;
    if n > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("saved state is damaged (a length of {n})"),
        ));
    }
    Ok(n as usize)
}

/// The largest length a sane state holds.
pub(crate) const LIMIT: u64 = 1 << 40;

/// Reads what [`put_bytes`] wrote.
pub(crate) fn get_bytes(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let n = get_len(r, LIMIT)?;
    let mut bytes = Vec::new();
    r.take(n as u64).read_to_end(&mut bytes)?;
    if bytes.len() != n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes)
}
