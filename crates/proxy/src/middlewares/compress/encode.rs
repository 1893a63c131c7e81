//! The three encoders, each two ways: the whole body at once (the usual
//! case: a response that arrives complete and not too large), or as a
//! stream. Levels are chosen to match Traefik's sizes (klauspost gzip level
//! 5, andybalholm brotli quality 6, klauspost zstd `SpeedDefault`) within a
//! few per cent at a fraction of the CPU; `bench/README.md` has the figures.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// zlib level 4: at most 0.4 % larger than Traefik's gzip on three JSON and
/// three HTML bodies of 64 KiB (level 3, a quarter cheaper, was 4.6 to 14 %
/// larger on the JSON ones; libdeflate's level 4 is a tenth cheaper on those
/// bodies but ten times dearer on long runs of one byte), half of level 6's
/// CPU. `bench/README.md` has the table.
const GZIP_LEVEL: u32 = 4;
/// Brotli quality 5: within 2.5 % of Traefik's quality 6; quality 4 is 14 %
/// larger on JSON.
const BROTLI_QUALITY: u32 = 5;
/// Traefik's (and brotli's) default window, for streams of unknown size.
const BROTLI_STREAM_WINDOW: u32 = 22;
/// zstd level 3, the library's default, as klauspost's `SpeedDefault`.
const ZSTD_LEVEL: i32 = 3;
/// Idle compressor states kept per pool (each holds a few hundred KiB).
const POOL_MAX: usize = 32;

/// Compressor states kept for reuse: a new one costs allocations and the
/// clearing of its tables, a reused one only a reset. Filled on first use.
#[derive(Default)]
pub struct Pools {
    deflate: Mutex<Vec<flate2::Compress>>,
    zstd: Mutex<Vec<zstd::bulk::Compressor<'static>>>,
}

impl Pools {
    fn deflate(&self) -> flate2::Compress {
        let pooled = self.deflate.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.unwrap_or_else(|| flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false))
    }

    fn put_deflate(&self, mut c: flate2::Compress) {
        c.reset();
        let mut idle = self.deflate.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_MAX {
            idle.push(c);
        }
    }

    fn zstd(&self) -> std::io::Result<zstd::bulk::Compressor<'static>> {
        let pooled = self.zstd.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(c) => Ok(c),
            None => zstd::bulk::Compressor::new(ZSTD_LEVEL),
        }
    }

    fn put_zstd(&self, c: zstd::bulk::Compressor<'static>) {
        let mut idle = self.zstd.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_MAX {
            idle.push(c);
        }
    }
}

/// `data` (the whole body, in the pieces it arrived in) encoded at once.
pub fn whole(
    encoding: &str,
    data: &[bytes::Bytes],
    pools: &Arc<Pools>,
) -> std::io::Result<Vec<u8>> {
    let len: usize = data.iter().map(|b| b.len()).sum();
    match encoding {
        "gzip" => {
            let mut gz = Gzip::new(pools, len / 8 + 1024);
            for piece in data {
                gz.write(piece)?;
            }
            gz.finish()
        }
        "br" => brotli_whole(&joined(data, len), len),
        "zstd" => {
            let mut c = pools.zstd()?;
            let out = c.compress(&joined(data, len));
            pools.put_zstd(c);
            out
        }
        other => Err(unsupported(other)),
    }
}

fn unsupported(encoding: &str) -> std::io::Error {
    std::io::Error::other(format!("unsupported encoding {encoding}"))
}

/// The pieces as one slice, copied only when there are several.
fn joined(data: &[bytes::Bytes], len: usize) -> std::borrow::Cow<'_, [u8]> {
    match data {
        [one] => std::borrow::Cow::Borrowed(&one[..]),
        _ => {
            let mut all = Vec::with_capacity(len);
            data.iter().for_each(|b| all.extend_from_slice(b));
            std::borrow::Cow::Owned(all)
        }
    }
}

/// One brotli call over the whole input, with a window just large enough
/// for it: the encoder then sizes its ring buffer to the input instead of
/// 4 MiB.
fn brotli_whole(input: &[u8], len: usize) -> std::io::Result<Vec<u8>> {
    use brotli::enc::encode::{
        BrotliEncoderOperation, BrotliEncoderParameter, BrotliEncoderStateStruct,
    };
    let window = (usize::BITS - len.saturating_add(16).leading_zeros()).clamp(17, 22);
    let mut s = BrotliEncoderStateStruct::new(brotli::enc::StandardAlloc::default());
    s.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_QUALITY, BROTLI_QUALITY);
    s.set_parameter(BrotliEncoderParameter::BROTLI_PARAM_LGWIN, window);
    s.set_parameter(
        BrotliEncoderParameter::BROTLI_PARAM_SIZE_HINT,
        u32::try_from(len).unwrap_or(u32::MAX),
    );
    let mut out = vec![0u8; brotli::enc::BrotliEncoderMaxCompressedSize(len).max(64)];
    let (mut avail_in, mut in_at) = (input.len(), 0);
    let (mut avail_out, mut out_at) = (out.len(), 0);
    let ok = s.compress_stream(
        BrotliEncoderOperation::BROTLI_OPERATION_FINISH,
        &mut avail_in,
        input,
        &mut in_at,
        &mut avail_out,
        &mut out,
        &mut out_at,
        &mut None,
        &mut |_, _, _, _| (),
    );
    if !ok || !s.is_finished() {
        return Err(std::io::Error::other("brotli: the encoder did not finish"));
    }
    out.truncate(out_at);
    Ok(out)
}

/// gzip framing (RFC 1952) around a pooled raw deflate state.
pub struct Gzip {
    deflate: Option<flate2::Compress>,
    out: Vec<u8>,
    crc: crc32fast::Hasher,
    size: u32,
    pools: Arc<Pools>,
}

impl Gzip {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

    fn new(pools: &Arc<Pools>, capacity: usize) -> Gzip {
        let mut out = Vec::with_capacity(capacity.max(64));
        out.extend_from_slice(&Self::HEADER);
        Gzip {
            deflate: Some(pools.deflate()),
            out,
            crc: crc32fast::Hasher::new(),
            size: 0,
            pools: pools.clone(),
        }
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.crc.update(data);
        self.size = self.size.wrapping_add(data.len() as u32);
        self.run(data, flate2::FlushCompress::None)
    }

    /// Feeds `input` to deflate, growing the output as needed, until all of
    /// it is taken (and, for `Sync` and `Finish`, all output is out).
    fn run(&mut self, mut input: &[u8], flush: flate2::FlushCompress) -> std::io::Result<()> {
        let Some(deflate) = self.deflate.as_mut() else {
            return Err(std::io::Error::other("gzip: stream already finished"));
        };
        // Each round either takes input, emits output, or ends: bounded
        // by the sizes involved; the cap is a guard against a stuck state.
        for _ in 0..(input.len() / 1024 + 64) * 4 {
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve(self.out.capacity().max(4096) / 2);
            }
            let before = deflate.total_in();
            let status = deflate
                .compress_vec(input, &mut self.out, flush)
                .map_err(std::io::Error::other)?;
            input = &input[(deflate.total_in() - before) as usize..];
            let spare = self.out.capacity() - self.out.len();
            match status {
                flate2::Status::StreamEnd => return Ok(()),
                _ if input.is_empty()
                    && spare > 0
                    && !matches!(flush, flate2::FlushCompress::Finish) =>
                {
                    return Ok(())
                }
                _ => {}
            }
        }
        Err(std::io::Error::other("gzip: deflate made no progress"))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.run(&[], flate2::FlushCompress::Sync)
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    fn finish(mut self) -> std::io::Result<Vec<u8>> {
        self.run(&[], flate2::FlushCompress::Finish)?;
        let mut out = self.take();
        out.extend_from_slice(&self.crc.clone().finalize().to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        Ok(out)
    }
}

impl Drop for Gzip {
    fn drop(&mut self) {
        if let Some(d) = self.deflate.take() {
            self.pools.put_deflate(d);
        }
    }
}

/// A streaming encoder, for bodies too large or too slow to take whole.
pub enum Stream {
    Gzip(Box<Gzip>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(Box<zstd::stream::write::Encoder<'static, Vec<u8>>>),
}

impl Stream {
    pub fn new(encoding: &str, pools: &Arc<Pools>) -> std::io::Result<Stream> {
        Ok(match encoding {
            "gzip" => Stream::Gzip(Box::new(Gzip::new(pools, 16 * 1024))),
            "br" => Stream::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                16 * 1024,
                BROTLI_QUALITY,
                BROTLI_STREAM_WINDOW,
            ))),
            "zstd" => Stream::Zstd(Box::new(zstd::stream::write::Encoder::new(
                Vec::new(),
                ZSTD_LEVEL,
            )?)),
            other => return Err(unsupported(other)),
        })
    }

    pub fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Gzip(e) => e.write(data),
            Stream::Brotli(e) => e.write_all(data),
            Stream::Zstd(e) => e.write_all(data),
        }
    }

    /// Pushes out everything written so far (a sync point of the format).
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Gzip(e) => e.flush(),
            Stream::Brotli(e) => e.flush(),
            Stream::Zstd(e) => e.flush(),
        }
    }

    /// How many compressed bytes wait to be taken.
    pub fn produced(&self) -> usize {
        match self {
            Stream::Gzip(e) => e.out.len(),
            Stream::Brotli(e) => e.get_ref().len(),
            Stream::Zstd(e) => e.get_ref().len(),
        }
    }

    /// The compressed bytes produced so far.
    pub fn take(&mut self) -> Vec<u8> {
        match self {
            Stream::Gzip(e) => e.take(),
            Stream::Brotli(e) => std::mem::take(e.get_mut()),
            Stream::Zstd(e) => std::mem::take(e.get_mut()),
        }
    }

    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Stream::Gzip(e) => (*e).finish(),
            Stream::Brotli(e) => Ok(e.into_inner()),
            Stream::Zstd(e) => e.finish(),
        }
    }
}
