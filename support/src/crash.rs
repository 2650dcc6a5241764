//! A word on stderr when a check crashes with a segmentation fault, for the crashes a section
//! knows the likely cause of.
//!
//! Some mistakes crash libtorch instead of raising an error, and a crash ends the check process
//! before it can report anything: the learner sees only "killed by signal 11". The best known
//! is `Tensor::run_backward` (or `backward()`) from a tensor that does not require grad, which
//! PyTorch reports as "element 0 of tensors does not require grad" and tch turns into a
//! segfault. A check binary whose exercise invites that mistake calls
//! [`explain_segfaults`] at the start of `main`: if the process then segfaults, the explanation
//! is written to stderr (which the runner shows) and the process still dies of SIGSEGV, so the
//! verdict stays a crash.
//!
//! ```text
//! fn main() {
//!     tensorlings_support::crash::explain_segfaults(tensorlings_support::crash::BACKWARD_WITHOUT_GRAD);
//!     Checks::new("hessian_products").check(...).run()
//! }
//! ```

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The usual cause of a segfault in autograd code with tch.
pub const BACKWARD_WITHOUT_GRAD: &str = "\
tensorlings: the check crashed with a segmentation fault. In autograd code with tch the usual cause
is Tensor::run_backward (or backward()) from a tensor that does not require grad: PyTorch raises
\"element 0 of tensors does not require grad\", tch crashes instead. It happens to a gradient
computed without create_graph = true (it has no graph to differentiate again), and to a derivative
that is a constant (the second derivative of x^2, the gradient of a linear function). Test
`t.requires_grad()` before run_backward from `t`: when it is false, the gradient is 0.
";

static MESSAGE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static LENGTH: AtomicUsize = AtomicUsize::new(0);
/// The SA_SIGINFO handler that was installed before ours (Rust's own, which reports a stack
/// overflow), or 0: ours passes the signal on to it.
static PREVIOUS: AtomicUsize = AtomicUsize::new(0);

/// Writes `explanation` to stderr if the process later receives SIGSEGV, then lets the signal
/// do what it would have done: the handler installed before (Rust's, which reports a stack
/// overflow) runs next, and the default action kills the process.
///
/// A second call replaces the explanation. Returns an error if the handler could not be
/// installed, which a check can ignore: it only loses the explanation.
pub fn explain_segfaults(explanation: &'static str) -> std::io::Result<()> {
    LENGTH.store(explanation.len(), Ordering::SeqCst);
    MESSAGE.store(explanation.as_ptr().cast_mut(), Ordering::SeqCst);
    // SAFETY: a zeroed sigaction is valid; the handler only calls write(2), which is
    // async-signal-safe, on a 'static buffer. SA_RESETHAND restores the default action before
    // the handler runs, so when it returns the faulting instruction faults again and the
    // process dies of SIGSEGV as it would have without us.
    // SA_ONSTACK: a stack overflow faults with no stack left, so the handler needs the
    // alternate stack that Rust sets up.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_segfault as SigInfoHandler as usize;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGSEGV, &action, &mut previous) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let chained = previous.sa_flags & libc::SA_SIGINFO != 0
            && previous.sa_sigaction != on_segfault as SigInfoHandler as usize;
        if chained {
            PREVIOUS.store(previous.sa_sigaction, Ordering::SeqCst);
        }
    }
    Ok(())
}

type SigInfoHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

extern "C" fn on_segfault(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let message = MESSAGE.load(Ordering::SeqCst);
    let length = LENGTH.load(Ordering::SeqCst);
    if !message.is_null() {
        // SAFETY: message and length describe a &'static str stored by explain_segfaults.
        unsafe {
            libc::write(libc::STDERR_FILENO, message.cast(), length);
        }
    }
    let previous = PREVIOUS.load(Ordering::SeqCst);
    if previous != 0 {
        // SAFETY: the address of the SA_SIGINFO handler that sigaction reported as installed.
        let previous: SigInfoHandler = unsafe { std::mem::transmute(previous) };
        previous(signal, info, context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_is_installed_and_resets_itself() {
        explain_segfaults("test explanation\n").unwrap();
        // SAFETY: reading the current action into a zeroed struct.
        let current = unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut current), 0);
            current
        };
        assert_eq!(current.sa_sigaction, on_segfault as SigInfoHandler as usize);
        assert_ne!(current.sa_flags & libc::SA_RESETHAND, 0);
        assert_eq!(LENGTH.load(Ordering::SeqCst), "test explanation\n".len());
        // Put the default back: the test process must crash normally if anything else faults.
        // SAFETY: SIG_DFL is always a valid action.
        unsafe {
            libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        }
    }
}
