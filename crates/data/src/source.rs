use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::error::{DataError, Result};

/// The two bytes every gzip member starts with (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most a deflate stream expands (about 1032 : 1, zlib's technical details); a bound on
/// the decoded size of a gzip file from its stored size, used only to cap allocations that a
/// file's header asks for.
const MAX_GZIP_RATIO: u64 = 1032;

/// Read buffer for files: large enough that reading is a few system calls per megabyte.
const BUFFER: usize = 1 << 16;

/// The content of a file, read as a stream and transparently decompressed when it is gzip.
///
/// The content decides, not the file name: a `.csv` that is really gzip is decompressed, and a
/// `.gz` that holds plain text is read as is. `MultiGzDecoder` because `cat a.gz b.gz` is a valid
/// gzip file and tools do produce such concatenations.
pub(crate) struct Input<'a> {
    pub reader: Box<dyn BufRead + 'a>,
    /// An upper bound of the number of content bytes (the stored size, times the largest
    /// deflate ratio for gzip).
    pub bound: u64,
}

/// The file at `path`, opened for streaming (see [`Input`]).
pub(crate) fn open(path: &Path) -> Result<Input<'static>> {
    let file = File::open(path).map_err(|source| io_error(path, source))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    input(path, BufReader::with_capacity(BUFFER, file), len)
}

/// A file's content already in memory (plain or gzip); `path` names it in errors.
pub(crate) fn from_bytes<'a>(path: &Path, bytes: &'a [u8]) -> Result<Input<'a>> {
    input(path, bytes, bytes.len() as u64)
}

fn input<'a, R: BufRead + 'a>(path: &Path, mut reader: R, len: u64) -> Result<Input<'a>> {
    let head = reader.fill_buf().map_err(|source| io_error(path, source))?;
    Ok(if head.starts_with(&GZIP_MAGIC) {
        Input {
            reader: Box::new(BufReader::with_capacity(
                BUFFER,
                MultiGzDecoder::new(reader),
            )),
            bound: len.saturating_mul(MAX_GZIP_RATIO),
        }
    } else {
        Input {
            reader: Box::new(reader),
            bound: len,
        }
    })
}

/// Fills `buf` from `reader` as far as the stream goes; the number of bytes read (less than
/// `buf.len()` only at the end of the stream).
pub(crate) fn read_up_to(path: &Path, reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(io_error(path, source)),
        }
    }
    Ok(filled)
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}
