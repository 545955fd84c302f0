use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::error::{DataError, Result};

/// The two bytes every gzip member starts with (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes of `path` as stored (see [`decode`]).
pub(crate) fn read_raw(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| io_error(path, source))
}

/// The content of a file, transparently decompressed when it is gzip; `path` names it in
/// errors. A plain file is borrowed, not copied.
///
/// The content decides, not the file name: a `.csv` that is really gzip is decompressed, and a
/// `.gz` that holds plain text is read as is. `MultiGzDecoder` because `cat a.gz b.gz` is a valid
/// gzip file and tools do produce such concatenations.
pub(crate) fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|source| io_error(path, source))?;
    Ok(Cow::Owned(out))
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}
