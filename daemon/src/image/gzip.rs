//! Gzip for layers, compressed on every core and still the same bytes on any machine.
//!
//! The stream is cut into chunks of a fixed size; each chunk is deflated on its own (a fresh
//! compressor, no dictionary from the chunk before, as `pigz --independent` does) and ends on a
//! full flush, the last one on the final block. The pieces make one ordinary gzip member (a
//! fixed header, no name, no time; the CRC and size of the whole): any gunzip reads it, and
//! since a chunk's bytes depend on the chunk alone, the output is the same whatever the number
//! of threads. Layers are what `axle image` spends its time on: deflating a 200 MB venv at
//! level 6 took seconds on one core.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// Bytes of input per chunk: big enough that independent chunks lose next to nothing of the
/// ratio, small enough that a layer has work for every core.
const CHUNK: usize = 1 << 20;

/// gzip's header: magic, deflate, no flags, mtime 0, no extra flags, OS "unknown".
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A `Write` that gzips into `inner`, chunk by chunk, several chunks at once.
pub struct ParallelGzip<W: Write> {
    inner: W,
    level: Compression,
    threads: usize,
    /// Full chunks waiting to be deflated together.
    batch: Vec<Vec<u8>>,
    /// The chunk being filled.
    current: Vec<u8>,
    crc: flate2::Crc,
    header_written: bool,
}

impl<W: Write> ParallelGzip<W> {
    pub fn new(inner: W, level: Compression) -> ParallelGzip<W> {
        let threads = std::thread::available_parallelism().map_or(1, |threads| threads.get().min(8));
        ParallelGzip::with_threads(inner, level, threads)
    }

    fn with_threads(inner: W, level: Compression, threads: usize) -> ParallelGzip<W> {
        ParallelGzip {
            inner,
            level,
            threads: threads.max(1),
            batch: Vec::new(),
            current: Vec::with_capacity(CHUNK),
            crc: flate2::Crc::new(),
            header_written: false,
        }
    }

    /// Deflates what is left, writes the trailer and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let last = std::mem::take(&mut self.current);
        self.batch.push(last);
        self.deflate_batch(true)?;
        self.inner.write_all(&self.crc.sum().to_le_bytes())?;
        self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.inner)
    }

    /// Deflates the batch on up to `threads` threads and writes the pieces in order; `last`:
    /// the batch's last chunk ends the stream.
    fn deflate_batch(&mut self, last: bool) -> io::Result<()> {
        if !self.header_written {
            self.inner.write_all(&HEADER)?;
            self.header_written = true;
        }
        let batch = std::mem::take(&mut self.batch);
        let count = batch.len();
        let level = self.level;
        let pieces: Vec<io::Result<Vec<u8>>> = if count == 1 || self.threads == 1 {
            batch
                .iter()
                .enumerate()
                .map(|(at, chunk)| deflate(chunk, level, last && at + 1 == count))
                .collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .iter()
                    .enumerate()
                    .map(|(at, chunk)| scope.spawn(move || deflate(chunk, level, last && at + 1 == count)))
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| {
                        handle
                            .join()
                            .unwrap_or_else(|_| Err(io::Error::other("a compressing thread panicked")))
                    })
                    .collect()
            })
        };
        for piece in pieces {
            self.inner.write_all(&piece?)?;
        }
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.current.len();
        let taken = &buffer[..buffer.len().min(room)];
        self.current.extend_from_slice(taken);
        self.crc.update(taken);
        if self.current.len() == CHUNK {
            let full = std::mem::replace(&mut self.current, Vec::with_capacity(CHUNK));
            self.batch.push(full);
            if self.batch.len() == self.threads {
                self.deflate_batch(false)?;
            }
        }
        Ok(taken.len())
    }

    /// Chunks are cut by size alone (so the bytes do not depend on when callers flush): this
    /// flushes only what was already deflated.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `chunk` as raw deflate: ending on a full flush (byte-aligned, so the next chunk's blocks
/// follow it), or, for the `last`, on the final block.
fn deflate(chunk: &[u8], level: Compression, last: bool) -> io::Result<Vec<u8>> {
    let mut compress = Compress::new(level, false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Full
    };
    let mut out = Vec::with_capacity(chunk.len() / 2 + 1024);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = usize::try_from(compress.total_in()).map_err(io::Error::other)?;
        let status = compress
            .compress_vec(&chunk[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = usize::try_from(compress.total_in()).map_err(io::Error::other)? == chunk.len();
        match status {
            Status::StreamEnd => return Ok(out),
            // A full flush is done once all input is in and the output had room to spare.
            Status::Ok | Status::BufError if !last && all_in && out.len() < out.capacity() => return Ok(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gzip(data: &[u8], threads: usize, writes: usize) -> Vec<u8> {
        let mut writer = ParallelGzip::with_threads(Vec::new(), Compression::new(6), threads);
        for piece in data.chunks(writes.max(1)) {
            writer.write_all(piece).unwrap();
        }
        writer.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        // One member: a reader that stops at the first member's end reads everything.
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn any_gunzip_reads_it_back_and_the_bytes_do_not_depend_on_threads_or_writes() {
        let text: Vec<u8> = (0..(CHUNK * 3 + 12_345))
            .map(|at| b"axle layers compress well "[at % 26] ^ ((at / 4093) as u8 & 7))
            .collect();
        let cases: [(&str, Vec<u8>); 4] = [
            ("empty", Vec::new()),
            ("small", b"hello".to_vec()),
            ("exactly two chunks", text[..CHUNK * 2].to_vec()),
            ("several chunks and a tail", text.clone()),
        ];
        for (label, data) in cases {
            let one = gzip(&data, 1, 8192);
            assert_eq!(gunzip(&one), data, "{label}");
            for (threads, writes) in [(2, 8192), (3, 1_000_003), (8, 1)] {
                if writes == 1 && data.len() > 100_000 {
                    continue;
                }
                assert_eq!(gzip(&data, threads, writes), one, "{label}: {threads} threads");
            }
            assert_eq!(&one[..10], &HEADER, "{label}");
        }
    }

    #[test]
    fn a_layer_compresses_about_as_well_as_one_stream() {
        let data: Vec<u8> = (0..CHUNK * 4)
            .map(|at| (at % 251) as u8 ^ (at / 65_536) as u8)
            .collect();
        let ours = gzip(&data, 2, 65_536).len();
        let mut single = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        single.write_all(&data).unwrap();
        let single = single.finish().unwrap().len();
        assert!(ours <= single + single / 20 + 64, "{ours} vs {single}");
    }
}
