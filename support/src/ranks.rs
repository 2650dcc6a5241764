//! Simulated ranks for distributed exercises: one thread per rank, tensors exchanged over
//! channels, every message counted (the approach of LLM-Training-Puzzles).
//!
//! [`run_ranks`] starts one thread per input, hands each a [`Rank`] (its number, the world size,
//! and point-to-point [`Rank::send`] / [`Rank::recv`]) and its input, and returns every rank's
//! result with the [`Traffic`]: who sent how many elements to whom, in order. Checks of an
//! all-reduce count from it that a ring sends `2 (n - 1) / n` of the data per rank.
//!
//! ```text
//! let (results, traffic) = run_ranks(grads, |rank, grad| my_all_reduce(rank, &grad))?;
//! ```
//!
//! A send copies the tensor (a network sends values, not references), never blocks, and is
//! received in order: between two ranks, messages arrive in the order they were sent. A receive
//! waits for the next message from that rank; when that rank has already finished (returned or
//! panicked) without sending it, or nothing comes for [`RECV_TIMEOUT`] (a deadlock: every rank
//! waiting for another), the receiving rank panics with a message that says so. A panic in a
//! rank becomes the `Err` of [`run_ranks`], named by rank; the original panic is preferred to the
//! ones it causes in ranks that waited for it.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use tch::Tensor;

use crate::failure::Failure;
use crate::panics::catch_panics;

/// How long [`Rank::recv`] waits before it calls it a deadlock. The work in the exercises takes
/// milliseconds; this is long enough for a loaded machine and short enough for a check timeout.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(10);

/// The start of the panic message of a receive whose sender has finished without sending: it is
/// a consequence, and [`run_ranks`] reports the cause (the sender's own panic) when there is one.
const SENDER_GONE: &str = "waits for a tensor from rank";

/// One message, as [`Traffic`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The sending rank.
    pub from: usize,
    /// The receiving rank.
    pub to: usize,
    /// How many elements the tensor held (`numel`).
    pub elements: i64,
}

/// Every message sent during a [`run_ranks`], in the order the sends happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// The messages, in the order they were sent (interleaved across ranks).
    pub messages: Vec<Message>,
}

impl Traffic {
    /// The elements rank `rank` sent, all messages together.
    pub fn elements_sent_by(&self, rank: usize) -> i64 {
        self.messages.iter().filter(|m| m.from == rank).map(|m| m.elements).sum()
    }

    /// The number of messages rank `rank` sent.
    pub fn messages_sent_by(&self, rank: usize) -> usize {
        self.messages.iter().filter(|m| m.from == rank).count()
    }

    /// The elements sent by every rank together.
    pub fn total_elements(&self) -> i64 {
        self.messages.iter().map(|m| m.elements).sum()
    }
}

/// A rank's view of the simulated world: who it is, and channels to and from every rank.
///
/// `Rank` is handed to the closure of [`run_ranks`]; it cannot be built otherwise.
pub struct Rank<'a> {
    rank: usize,
    world: usize,
    /// `to[r]` sends to rank `r`.
    to: Vec<Sender<Tensor>>,
    /// `from[r]` receives what rank `r` sent to this rank.
    from: Vec<Receiver<Tensor>>,
    log: &'a Mutex<Vec<Message>>,
}

impl Rank<'_> {
    /// This rank's number, from 0 to `world_size() - 1`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// How many ranks there are.
    pub fn world_size(&self) -> usize {
        self.world
    }

    /// Sends a copy of `tensor` to rank `to`, without waiting for it to be received. Counted in
    /// the [`Traffic`] as `tensor.numel()` elements; a rank may send to itself (not counted:
    /// nothing crosses a wire).
    ///
    /// Panics if `to` is not a rank.
    #[track_caller]
    pub fn send(&self, to: usize, tensor: &Tensor) {
        assert!(
            to < self.world,
            "rank {} sends to rank {to}, but the ranks are 0 to {}",
            self.rank,
            self.world - 1
        );
        // A copy, detached: what a network delivers is the values at the time of the send.
        let copy = tensor.detach().copy();
        if to != self.rank {
            let message = Message { from: self.rank, to, elements: tensor.numel() as i64 };
            self.log.lock().unwrap_or_else(|e| e.into_inner()).push(message);
        }
        // The receiver lives as long as the world does: `run_ranks` keeps every receiver until
        // all threads are joined, so this cannot fail.
        let _ = self.to[to].send(copy);
    }

    /// The next tensor rank `from` sent to this rank, waiting for it.
    ///
    /// Panics if `from` is not a rank, if rank `from` has finished without sending it, or if
    /// nothing came within [`RECV_TIMEOUT`] (a deadlock).
    #[track_caller]
    pub fn recv(&self, from: usize) -> Tensor {
        assert!(
            from < self.world,
            "rank {} receives from rank {from}, but the ranks are 0 to {}",
            self.rank,
            self.world - 1
        );
        match self.from[from].recv_timeout(RECV_TIMEOUT) {
            Ok(tensor) => tensor,
            Err(RecvTimeoutError::Disconnected) => panic!(
                "rank {} {SENDER_GONE} {from}, but rank {from} has finished without sending it: \
                 every recv needs a matching send on the other side",
                self.rank
            ),
            Err(RecvTimeoutError::Timeout) => panic!(
                "rank {} waited {} s for a tensor from rank {from} that never came: a deadlock? \
                 (every rank waiting to receive before any sends, or a send to the wrong rank)",
                self.rank,
                RECV_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Runs `f` on one thread per input: rank `r` gets its [`Rank`] and `inputs[r]`. Returns the
/// results in rank order and the [`Traffic`], or, when a rank panicked, a [`Failure`] naming the
/// rank and its panic (the first panic that was not only a consequence of another rank's).
pub fn run_ranks<I, T, F>(inputs: Vec<I>, f: F) -> Result<(Vec<T>, Traffic), Failure>
where
    I: Send,
    T: Send,
    F: Fn(&Rank<'_>, I) -> T + Sync,
{
    let world = inputs.len();
    let log = Mutex::new(Vec::new());
    // channels[from][to]
    let mut senders: Vec<Vec<Sender<Tensor>>> = vec![Vec::with_capacity(world); world];
    let mut receivers: Vec<Vec<Receiver<Tensor>>> = (0..world).map(|_| Vec::with_capacity(world)).collect();
    for sender_row in senders.iter_mut() {
        for receiver_row in receivers.iter_mut() {
            let (tx, rx) = channel();
            sender_row.push(tx);
            receiver_row.push(rx);
        }
    }
    let outcomes: Vec<Result<T, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .into_iter()
            .zip(senders)
            .zip(receivers)
            .enumerate()
            .map(|(rank, ((input, to), from))| {
                let (f, log) = (&f, &log);
                scope.spawn(move || {
                    // The Rank (and so its senders) is dropped when this thread ends, which is
                    // how a receiver learns that this rank will send nothing more.
                    let me = Rank { rank, world, to, from, log };
                    catch_panics(move || f(&me, input))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("the rank's thread died".into())))
            .collect()
    });
    let traffic = Traffic { messages: log.into_inner().unwrap_or_else(|e| e.into_inner()) };
    let errors: Vec<(usize, &String)> =
        outcomes.iter().enumerate().filter_map(|(r, o)| o.as_ref().err().map(|e| (r, e))).collect();
    if let Some(&(rank, error)) =
        errors.iter().find(|(_, e)| !e.contains(SENDER_GONE)).or_else(|| errors.first())
    {
        return Err(Failure::new(format!("on rank {rank} of {world}: {error}")));
    }
    let results = outcomes.into_iter().map(|o| o.unwrap_or_else(|_| unreachable!())).collect();
    Ok((results, traffic))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn ones(n: i64) -> Tensor {
        Tensor::ones([n], (Kind::Float, Device::Cpu))
    }

    #[test]
    fn ranks_exchange_tensors_and_the_traffic_is_counted() {
        let inputs = vec![ones(3), ones(3) * 2.0, ones(3) * 3.0];
        let (results, traffic) = run_ranks(inputs, |rank, x| {
            let next = (rank.rank() + 1) % rank.world_size();
            let previous = (rank.rank() + rank.world_size() - 1) % rank.world_size();
            rank.send(next, &x);
            rank.send(rank.rank(), &x);
            let own = rank.recv(rank.rank());
            rank.recv(previous) + own
        })
        .unwrap();
        let sums: Vec<f64> = results.iter().map(|t| t.double_value(&[0])).collect();
        assert_eq!(sums, [4.0, 3.0, 5.0]);
        assert_eq!(traffic.messages.len(), 3, "a send to oneself is not counted");
        assert_eq!(traffic.elements_sent_by(1), 3);
        assert_eq!(traffic.messages_sent_by(2), 1);
        assert_eq!(traffic.total_elements(), 9);
    }

    #[test]
    fn a_send_is_a_copy() {
        let (results, _) = run_ranks(vec![ones(2), ones(2)], |rank, mut x| {
            if rank.rank() == 0 {
                rank.send(1, &x);
                let _ = x.fill_(7.0);
                x
            } else {
                rank.recv(0)
            }
        })
        .unwrap();
        assert_eq!(results[1].double_value(&[0]), 1.0);
    }

    #[test]
    fn the_panic_that_caused_the_others_is_reported() {
        let failure = run_ranks(vec![(), (), ()], |rank, ()| {
            if rank.rank() == 2 {
                panic!("the real problem");
            }
            rank.recv(2)
        })
        .unwrap_err();
        assert!(failure.message().starts_with("on rank 2 of 3: "), "{failure}");
        assert!(failure.message().contains("the real problem"), "{failure}");
    }

    #[test]
    fn a_receive_without_a_send_names_both_ranks() {
        let failure =
            run_ranks(vec![(), ()], |rank, ()| if rank.rank() == 0 { Some(rank.recv(1)) } else { None })
                .unwrap_err();
        assert!(
            failure.message().contains("rank 0 waits for a tensor from rank 1, but rank 1 has finished"),
            "{failure}"
        );
    }
}
