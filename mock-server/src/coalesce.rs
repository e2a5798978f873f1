//! Responses that leave together: each connection's first write after a
//! read waits one turn of the scheduler.
//!
//! When many connections have a request ready at once (a CI farm sharing one
//! fake, n8n running items in parallel, a load generator), the server reads
//! them all in one turn of its event loop. Written straight after it is
//! handled, each response finds the client asleep and wakes it: one wake-up
//! per response, and on a virtual machine each wake-up of a process on
//! another CPU is an interrupt the server pays for. [`Coalesced`] makes the
//! connection's task yield once before it writes a response: it wakes itself
//! and goes to the back of the run queue, so the requests already read on
//! other connections are handled first and the responses are written back to
//! back. The client is woken once for the batch instead of once per
//! response (docs/performance.md, "Responses written together").
//!
//! A response waits at most for the requests that were ready with it; a lone
//! request waits for nothing but one extra poll. At most one yield per write
//! that goes through, so a client that pipelines cannot hold its own
//! responses back. Nothing is buffered here: hyper keeps its write buffer
//! and writes it when polled again.
//!
//! Written by hand because it is a policy over hyper's `rt::Read` and
//! `rt::Write`, not a codec: no crate offers a yield before the write.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};

/// A connection's IO whose first write after a read yields once.
pub(crate) struct Coalesced<T> {
    io: T,
    /// A read completed since the last write that went through.
    read: bool,
    /// This write has already yielded once.
    yielded: bool,
}

impl<T> Coalesced<T> {
    pub(crate) fn new(io: T) -> Self {
        Coalesced {
            io,
            read: false,
            yielded: false,
        }
    }
}

impl<T: Unpin> Coalesced<T> {
    /// Whether this write waits a turn: the first after a read does, once.
    fn wait_a_turn(&mut self, cx: &mut Context<'_>) -> bool {
        if self.read && !self.yielded {
            self.yielded = true;
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }

    /// Records how a write went: one that went through re-arms the yield.
    fn wrote<R>(&mut self, polled: Poll<std::io::Result<R>>) -> Poll<std::io::Result<R>> {
        if let Poll::Ready(Ok(_)) = polled {
            self.read = false;
            self.yielded = false;
        }
        polled
    }
}

impl<T: Read + Unpin> Read for Coalesced<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.read = true;
        }
        polled
    }
}

impl<T: Write + Unpin> Write for Coalesced<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.wait_a_turn(cx) {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.wait_a_turn(cx) {
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    /// An IO that always has `b"x"` to read and accepts every write.
    #[derive(Default)]
    struct Ready {
        written: Vec<u8>,
    }

    impl Read for Ready {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> Poll<std::io::Result<()>> {
            buf.put_slice(b"x");
            Poll::Ready(Ok(()))
        }
    }

    impl Write for Ready {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn read(io: &mut Coalesced<Ready>, cx: &mut Context<'_>) {
        let mut bytes = [std::mem::MaybeUninit::uninit(); 8];
        let mut buf = hyper::rt::ReadBuf::uninit(&mut bytes);
        assert!(Pin::new(io).poll_read(cx, buf.unfilled()).is_ready());
    }

    fn write(io: &mut Coalesced<Ready>, cx: &mut Context<'_>, text: &str) -> bool {
        Pin::new(io).poll_write(cx, text.as_bytes()).is_ready()
    }

    #[test]
    fn the_first_write_after_a_read_yields_once_and_wakes_its_task() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut io = Coalesced::new(Ready::default());

        // Nothing read yet: a write goes straight through.
        assert!(write(&mut io, &mut cx, "a"));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);

        // After a read the first write waits a turn, with its task woken...
        read(&mut io, &mut cx);
        assert!(!write(&mut io, &mut cx, "b"));
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the task is woken");
        assert_eq!(io.io.written, b"a", "nothing is written meanwhile");
        // ...and goes through when polled again; the next write too.
        assert!(write(&mut io, &mut cx, "b"));
        assert!(write(&mut io, &mut cx, "c"));
        assert_eq!(io.io.written, b"abc");
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_client_that_keeps_sending_cannot_hold_its_answers_back() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut io = Coalesced::new(Ready::default());
        for round in 1..=3 {
            read(&mut io, &mut cx);
            assert!(!write(&mut io, &mut cx, "r"), "round {round}: one yield");
            // More of the client's bytes are read before the write comes back.
            read(&mut io, &mut cx);
            assert!(
                write(&mut io, &mut cx, "r"),
                "round {round}: no second yield"
            );
        }
        assert_eq!(io.io.written, b"rrr");
        assert_eq!(count.0.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn vectored_writes_wait_the_same_turn() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut io = Coalesced::new(Ready::default());
        read(&mut io, &mut cx);
        let bufs = [IoSlice::new(b"he"), IoSlice::new(b"ad")];
        assert!(Pin::new(&mut io)
            .poll_write_vectored(&mut cx, &bufs)
            .is_pending());
        assert!(Pin::new(&mut io)
            .poll_write_vectored(&mut cx, &bufs)
            .is_ready());
        assert_eq!(
            io.io.written, b"he",
            "the default vectored write takes the first slice"
        );
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
