//! Any `:authority` on the daemon's Unix socket.
//!
//! gRPC clients put what they like in `:authority` when they dial a Unix socket: gRPC C-core
//! (Python's `grpcio`) sends the socket path percent-encoded, which the HTTP/2 stack (h2)
//! refuses as a malformed authority by resetting the stream. Over a Unix socket the authority
//! means nothing (the peer's uid is what is checked), so the bytes each client sends pass
//! through a [`Rewriter`] that puts `localhost` in place of an authority h2 would refuse.
//!
//! Header blocks are HPACK-compressed against tables that live as long as the connection, so
//! the rewriter decodes every block the client sends (keeping the client's table) and encodes
//! it again (keeping its own table, in step with h2's decoder). Other frames pass as they
//! are; nothing the server sends is touched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use loona_hpack::{Decoder, Encoder};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the client sends first, before any frame (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;
const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame h2 accepts unless it says otherwise (it does not).
const MAX_FRAME: usize = 16_384;
/// The largest header block gathered; a client sending more is cut off.
const MAX_BLOCK: usize = 1 << 20;
/// HPACK's default table size, which h2 keeps (RFC 7541 §4.2).
const TABLE_SIZE: usize = 4_096;

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("a frame of {0} bytes is larger than allowed")]
    FrameTooLarge(usize),
    #[error("a header block is larger than allowed")]
    BlockTooLarge,
    #[error("a malformed header frame")]
    Malformed,
    #[error("a header block that does not decode: {0:?}")]
    Hpack(loona_hpack::decoder::DecoderError),
}

/// A header block being gathered from a HEADERS frame and its CONTINUATIONs.
struct Block {
    stream: [u8; 4],
    end_stream: bool,
    priority: Option<[u8; 5]>,
    fragment: Vec<u8>,
}

/// The client-to-server half of a connection, frame by frame.
pub struct Rewriter {
    preface_left: usize,
    pending: Vec<u8>,
    block: Option<Block>,
    decoder: Decoder<'static>,
    encoder: Encoder<'static>,
}

impl Default for Rewriter {
    fn default() -> Rewriter {
        let mut decoder = Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        Rewriter {
            preface_left: PREFACE_LEN,
            pending: Vec::new(),
            block: None,
            decoder,
            encoder: Encoder::new(),
        }
    }
}

impl Rewriter {
    /// Takes bytes as the client sent them and appends to `out` what h2 is to read: every
    /// complete frame so far, header blocks rewritten.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let mut input = input;
        if self.preface_left > 0 {
            let passed = self.preface_left.min(input.len());
            out.extend_from_slice(&input[..passed]);
            self.preface_left -= passed;
            input = &input[passed..];
        }
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= FRAME_HEADER_LEN {
            let header = &self.pending[start..start + FRAME_HEADER_LEN];
            let length = usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
            if length > MAX_FRAME * 64 {
                return Err(RewriteError::FrameTooLarge(length));
            }
            if self.pending.len() - start < FRAME_HEADER_LEN + length {
                break;
            }
            let frame = start..start + FRAME_HEADER_LEN + length;
            start = frame.end;
            let (kind, flags) = (header[3], header[4]);
            let mut stream = [0u8; 4];
            stream.copy_from_slice(&header[5..9]);
            let frame = self.pending[frame].to_vec();
            let payload = &frame[FRAME_HEADER_LEN..];
            match kind {
                HEADERS => {
                    self.block = Some(headers_block(stream, flags, payload)?);
                    if flags & END_HEADERS != 0 {
                        self.finish(out)?;
                    }
                }
                CONTINUATION if self.block.is_some() => {
                    let Some(block) = self.block.as_mut() else {
                        return Err(RewriteError::Malformed);
                    };
                    block.fragment.extend_from_slice(payload);
                    if block.fragment.len() > MAX_BLOCK {
                        return Err(RewriteError::BlockTooLarge);
                    }
                    if flags & END_HEADERS != 0 {
                        self.finish(out)?;
                    }
                }
                // Anything else is h2's to judge, a stray CONTINUATION included.
                _ => out.extend_from_slice(&frame),
            }
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Decodes the gathered block, mends its authority, and writes it again as a HEADERS
    /// frame and as many CONTINUATIONs as its new size needs.
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RewriteError> {
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        let mut fields = self.decoder.decode(&block.fragment).map_err(RewriteError::Hpack)?;
        for (name, value) in &mut fields {
            if name.as_slice() == b":authority" && http::uri::Authority::try_from(value.as_slice()).is_err() {
                *value = b"localhost".to_vec();
            }
        }
        let encoded = self
            .encoder
            .encode(fields.iter().map(|(name, value)| (name.as_slice(), value.as_slice())));
        let priority_len = if block.priority.is_some() { 5 } else { 0 };
        let first_len = encoded.len().min(MAX_FRAME - priority_len);
        let (first, mut rest) = encoded.split_at(first_len);
        let mut flags = 0;
        if block.end_stream {
            flags |= END_STREAM;
        }
        if block.priority.is_some() {
            flags |= PRIORITY;
        }
        if rest.is_empty() {
            flags |= END_HEADERS;
        }
        write_frame_header(out, first.len() + priority_len, HEADERS, flags, block.stream);
        if let Some(priority) = block.priority {
            out.extend_from_slice(&priority);
        }
        out.extend_from_slice(first);
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(rest.len().min(MAX_FRAME));
            rest = after;
            let flags = if rest.is_empty() { END_HEADERS } else { 0 };
            write_frame_header(out, chunk.len(), CONTINUATION, flags, block.stream);
            out.extend_from_slice(chunk);
        }
        Ok(())
    }
}

/// The header block fragment of a HEADERS frame, without its padding and priority fields.
fn headers_block(stream: [u8; 4], flags: u8, payload: &[u8]) -> Result<Block, RewriteError> {
    let mut payload = payload;
    if flags & PADDED != 0 {
        let (&pad, rest) = payload.split_first().ok_or(RewriteError::Malformed)?;
        let keep = rest
            .len()
            .checked_sub(usize::from(pad))
            .ok_or(RewriteError::Malformed)?;
        payload = &rest[..keep];
    }
    let mut priority = None;
    if flags & PRIORITY != 0 {
        let fields: [u8; 5] = payload
            .get(..5)
            .and_then(|fields| fields.try_into().ok())
            .ok_or(RewriteError::Malformed)?;
        priority = Some(fields);
        payload = &payload[5..];
    }
    Ok(Block {
        stream,
        end_stream: flags & END_STREAM != 0,
        priority,
        fragment: payload.to_vec(),
    })
}

fn write_frame_header(out: &mut Vec<u8>, length: usize, kind: u8, flags: u8, stream: [u8; 4]) {
    out.extend_from_slice(&[(length >> 16) as u8, (length >> 8) as u8, length as u8, kind, flags]);
    out.extend_from_slice(&stream);
}

/// A connection whose incoming bytes go through a [`Rewriter`].
pub struct Mended<S> {
    inner: S,
    rewriter: Rewriter,
    read: Vec<u8>,
    ready: Vec<u8>,
    offset: usize,
}

impl<S> Mended<S> {
    pub fn new(inner: S) -> Mended<S> {
        Mended {
            inner,
            rewriter: Rewriter::default(),
            read: vec![0; MAX_FRAME],
            ready: Vec::new(),
            offset: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Mended<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.offset < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.offset);
                buf.put_slice(&this.ready[this.offset..this.offset + n]);
                this.offset += n;
                return Poll::Ready(Ok(()));
            }
            let mut read = ReadBuf::new(&mut this.read);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.ready.clear();
            this.offset = 0;
            this.rewriter
                .feed(read.filled(), &mut this.ready)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Mended<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S: tonic::transport::server::Connected> tonic::transport::server::Connected for Mended<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8; PREFACE_LEN] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame_header(&mut out, payload.len(), kind, flags, stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Splits `bytes` into frames: (kind, flags, stream, payload).
    fn frames(bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut frames = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let length = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
            frames.push((rest[3], rest[4], stream, rest[9..9 + length].to_vec()));
            rest = &rest[9 + length..];
        }
        frames
    }

    fn request(authority: &[u8]) -> Fields {
        vec![
            (b":method".to_vec(), b"POST".to_vec()),
            (b":scheme".to_vec(), b"http".to_vec()),
            (b":path".to_vec(), b"/axle.v1.Axle/Status".to_vec()),
            (b":authority".to_vec(), authority.to_vec()),
            (b"te".to_vec(), b"trailers".to_vec()),
        ]
    }

    /// What a client sends: the preface, SETTINGS, then requests with `authority`, each
    /// block encoded against the client's running table, the second split in a CONTINUATION.
    fn client_bytes(authority: &[u8]) -> Vec<u8> {
        let mut encoder = Encoder::new();
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(0x4, 0, 0, &[]));
        let first = encoder.encode(request(authority).iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
        bytes.extend(frame(HEADERS, END_HEADERS, 1, &first));
        bytes.extend(frame(0x0, END_STREAM, 1, b"\0\0\0\0\0"));
        let second = encoder.encode(request(authority).iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
        let (head, tail) = second.split_at(second.len() / 2);
        // Padded, with a priority, in two frames.
        let mut payload = vec![3u8];
        payload.extend_from_slice(&[0, 0, 0, 0, 16]);
        payload.extend_from_slice(head);
        payload.extend_from_slice(&[0, 0, 0]);
        bytes.extend(frame(HEADERS, PADDED | PRIORITY | END_STREAM, 3, &payload));
        bytes.extend(frame(CONTINUATION, END_HEADERS, 3, tail));
        bytes
    }

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;
    /// A frame as h2 reads it: kind, flags, stream, and its decoded fields.
    type Decoded = (u8, u8, u32, Fields);

    /// Feeds `bytes` in pieces of `step` and decodes what h2 would read.
    fn through(bytes: &[u8], step: usize) -> (Vec<u8>, Vec<Decoded>) {
        let mut rewriter = Rewriter::default();
        let mut out = Vec::new();
        for piece in bytes.chunks(step) {
            rewriter.feed(piece, &mut out).expect("valid input");
        }
        let preface = out[..PREFACE_LEN].to_vec();
        let mut decoder = Decoder::new();
        let mut decoded = Vec::new();
        for (kind, flags, stream, payload) in frames(&out[PREFACE_LEN..]) {
            let fields = if kind == HEADERS {
                let fragment = if flags & PRIORITY != 0 {
                    &payload[5..]
                } else {
                    &payload[..]
                };
                decoder.decode(fragment).expect("decodes")
            } else {
                Vec::new()
            };
            decoded.push((kind, flags, stream, fields));
        }
        (preface, decoded)
    }

    #[test]
    fn a_percent_encoded_socket_path_becomes_localhost_and_the_rest_is_kept() {
        let bytes = client_bytes(b"tmp%2Faxle%2Frun%2Faxled.sock");
        for step in [1, 7, 64, bytes.len()] {
            let (preface, decoded) = through(&bytes, step);
            assert_eq!(preface, PREFACE.to_vec(), "step {step}");
            let kinds: Vec<(u8, u8, u32)> = decoded.iter().map(|(k, f, s, _)| (*k, *f, *s)).collect();
            assert_eq!(
                kinds,
                vec![
                    (0x4, 0, 0),
                    (HEADERS, END_HEADERS, 1),
                    (0x0, END_STREAM, 1),
                    (HEADERS, PRIORITY | END_STREAM | END_HEADERS, 3),
                ],
                "step {step}"
            );
            for (_, _, _, fields) in decoded.iter().filter(|(kind, ..)| *kind == HEADERS) {
                assert_eq!(fields, &request(b"localhost"), "step {step}");
            }
        }
    }

    #[test]
    fn a_valid_authority_is_left_as_it_is() {
        let (_, decoded) = through(&client_bytes(b"localhost:50051"), 5);
        let headers: Vec<_> = decoded.iter().filter(|(kind, ..)| *kind == HEADERS).collect();
        assert_eq!(headers.len(), 2);
        for (_, _, _, fields) in headers {
            assert_eq!(fields, &request(b"localhost:50051"));
        }
    }

    #[test]
    fn a_block_too_large_for_one_frame_is_split_into_continuations() {
        let mut encoder = Encoder::new();
        let mut fields = request(b"tmp%2Fsock");
        fields.push((b"x-big".to_vec(), vec![b'a'; 40_000]));
        let block = encoder.encode(fields.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
        let mut bytes = PREFACE.to_vec();
        for (index, chunk) in block.chunks(10_000).enumerate() {
            let last = (index + 1) * 10_000 >= block.len();
            let kind = if index == 0 { HEADERS } else { CONTINUATION };
            bytes.extend(frame(kind, if last { END_HEADERS } else { 0 }, 1, chunk));
        }
        let mut rewriter = Rewriter::default();
        let mut out = Vec::new();
        rewriter.feed(&bytes, &mut out).expect("valid input");
        let frames = frames(&out[PREFACE_LEN..]);
        assert!(frames.len() >= 3);
        assert!(frames.iter().all(|(_, _, _, payload)| payload.len() <= MAX_FRAME));
        let joined: Vec<u8> = frames.iter().flat_map(|(_, _, _, payload)| payload.clone()).collect();
        let decoded = Decoder::new().decode(&joined).expect("decodes");
        assert_eq!(decoded[3], (b":authority".to_vec(), b"localhost".to_vec()));
        assert_eq!(decoded[5].1.len(), 40_000);
        assert_eq!(frames.last().map(|frame| frame.1), Some(END_HEADERS));
    }

    #[test]
    fn garbage_in_a_header_block_is_an_error_not_a_panic() {
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(HEADERS, END_HEADERS, 1, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
        let mut out = Vec::new();
        assert!(Rewriter::default().feed(&bytes, &mut out).is_err());
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame(HEADERS, END_HEADERS | PADDED, 1, &[200, 1, 2]));
        assert!(Rewriter::default().feed(&bytes, &mut out).is_err());
    }
}
