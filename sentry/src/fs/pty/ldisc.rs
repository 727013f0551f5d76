//! The line discipline of an emulated pty (Linux's N_TTY, the parts
//! programs rely on): input processing of bytes written to the master
//! (ICRNL/INLCR/IGNCR, ISIG characters, canonical editing with echo), the
//! slave's read queue, and output processing (OPOST/ONLCR) of bytes the
//! slave writes, which the master reads.
//!
//! Pure state: callers hold the pty lock, then act on the returned
//! [`Effects`] (signals) after releasing it.

use std::collections::VecDeque;

use rvisor_syscalls::abi::KernelTermios;

/// Bytes each direction buffers: Linux's N_TTY read buffer holds
/// N_TTY_BUF_SIZE (4096) bytes, of which 4095 are usable.
pub const BUF_CAP: usize = 4095;

const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
const VSTART: usize = 8;
const VSTOP: usize = 9;
const VSUSP: usize = 10;
const VEOL: usize = 11;
const VWERASE: usize = 14;
const VLNEXT: usize = 15;
const VEOL2: usize = 16;

/// Linux's `tty_std_termios` with the pty slave's c_cflag.
pub fn default_termios() -> KernelTermios {
    let mut cc = [0u8; 19];
    cc[..17].copy_from_slice(b"\x03\x1c\x7f\x15\x04\x00\x01\x00\x11\x13\x1a\x00\x12\x0f\x17\x16\x00");
    KernelTermios {
        c_iflag: libc::ICRNL | libc::IXON,
        c_oflag: libc::OPOST | libc::ONLCR,
        c_cflag: libc::B38400 | libc::CS8 | libc::CREAD,
        c_lflag: libc::ISIG
            | libc::ICANON
            | libc::ECHO
            | libc::ECHOE
            | libc::ECHOK
            | libc::ECHOCTL
            | libc::ECHOKE
            | libc::IEXTEN,
        c_line: 0,
        c_cc: cc,
    }
}

/// What processing input asks the caller to do once the lock is dropped.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Effects {
    /// Signals for the terminal's foreground process group, in order.
    pub signals: Vec<i32>,
}

/// Both directions' queues and the termios that governs them.
pub struct Ldisc {
    pub termios: KernelTermios,
    /// What the slave may read: in canonical mode only complete lines.
    ready: VecDeque<u8>,
    /// Canonical mode: lengths of the complete lines in `ready`, in order
    /// (0 for a line ended by VEOF with nothing before it: a read of 0).
    lines: VecDeque<usize>,
    /// Canonical mode: the line being edited.
    edit: Vec<u8>,
    /// The previous byte was VLNEXT: take this one literally.
    lnext: bool,
    /// What the master may read: processed slave output and echoes.
    out: VecDeque<u8>,
}

fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl Default for Ldisc {
    fn default() -> Self {
        Ldisc::new()
    }
}

impl Ldisc {
    pub fn new() -> Ldisc {
        Ldisc {
            termios: default_termios(),
            ready: VecDeque::new(),
            lines: VecDeque::new(),
            edit: Vec::new(),
            lnext: false,
            out: VecDeque::new(),
        }
    }

    fn l(&self, flag: u32) -> bool {
        self.termios.c_lflag & flag != 0
    }

    fn i(&self, flag: u32) -> bool {
        self.termios.c_iflag & flag != 0
    }

    fn o(&self, flag: u32) -> bool {
        self.termios.c_oflag & flag != 0
    }

    /// Whether `c` is the (enabled) special character at `idx`.
    fn is(&self, c: u8, idx: usize) -> bool {
        let cc = self.termios.c_cc[idx];
        cc != 0 && c == cc
    }

    pub fn canonical(&self) -> bool {
        self.l(libc::ICANON)
    }

    /// Replaces the termios; switching canonical mode moves pending input
    /// the way Linux does (a partial line becomes readable in raw mode;
    /// raw data becomes one readable line in canonical mode).
    pub fn set_termios(&mut self, t: KernelTermios) {
        let was = self.canonical();
        self.termios = t;
        let now = self.canonical();
        if was && !now {
            self.ready.extend(self.edit.drain(..));
            self.lines.clear();
        } else if !was && now {
            self.lines.clear();
            if !self.ready.is_empty() {
                self.lines.push_back(self.ready.len());
            }
        }
        self.lnext = false;
    }

    /// Bytes queued for the slave (complete or not).
    fn input_len(&self) -> usize {
        self.ready.len() + self.edit.len()
    }

    /// Room for more input: in canonical mode input never blocks the
    /// writer (characters past a full buffer are dropped, as on Linux).
    pub fn input_room(&self) -> usize {
        if self.canonical() {
            usize::MAX
        } else {
            BUF_CAP.saturating_sub(self.input_len())
        }
    }

    pub fn output_room(&self) -> usize {
        BUF_CAP.saturating_sub(self.out.len())
    }

    /// Bytes the slave can read now (FIONREAD on the slave).
    pub fn readable(&self) -> usize {
        self.ready.len()
    }

    /// Whether a slave read would return now (data, or an EOF line).
    pub fn slave_can_read(&self, for_poll: bool) -> bool {
        if self.canonical() {
            return !self.lines.is_empty();
        }
        let (min, time) = (self.termios.c_cc[VMIN] as usize, self.termios.c_cc[VTIME]);
        let want = if for_poll && time == 0 && min > 0 { min } else { 1 };
        self.ready.len() >= want.min(BUF_CAP)
    }

    pub fn master_len(&self) -> usize {
        self.out.len()
    }

    pub fn flush_input(&mut self) {
        self.ready.clear();
        self.lines.clear();
        self.edit.clear();
        self.lnext = false;
    }

    pub fn flush_output(&mut self) {
        self.out.clear();
    }

    /// Appends `c` to the master's queue through output processing;
    /// drops it when the queue is full (as echoes are on Linux).
    fn put_out(&mut self, c: u8) {
        let bytes: &[u8] = if self.o(libc::OPOST) {
            match c {
                b'\n' if self.o(libc::ONLCR) => b"\r\n",
                b'\r' if self.o(libc::OCRNL) => b"\n",
                _ => std::slice::from_ref(&c),
            }
        } else {
            std::slice::from_ref(&c)
        };
        if self.out.len() + bytes.len() <= BUF_CAP {
            self.out.extend(bytes);
        }
    }

    fn echo_raw(&mut self, s: &[u8]) {
        for &c in s {
            self.put_out(c);
        }
    }

    /// Echoes `c`, as ^X for control characters under ECHOCTL.
    fn echo_char(&mut self, c: u8) {
        if self.l(libc::ECHOCTL) && is_cntrl(c) && c != b'\t' && c != b'\n' {
            self.echo_raw(&[b'^', c ^ 0x40]);
        } else {
            self.echo_raw(&[c]);
        }
    }

    /// Columns the edited line occupies on screen up to its end (for tab erase).
    fn edit_columns(&self) -> usize {
        let mut col = 0;
        for &c in &self.edit {
            col = match c {
                b'\t' => (col | 7) + 1,
                c if is_cntrl(c) && self.l(libc::ECHOCTL) => col + 2,
                c if is_cntrl(c) => col,
                _ => col + 1,
            };
        }
        col
    }

    /// VERASE / VWERASE / VKILL on the edited line, with their echo.
    fn erase(&mut self, kind: u8) {
        if self.edit.is_empty() {
            return;
        }
        let echo = self.l(libc::ECHO);
        if kind == b'k' {
            if !echo {
                self.edit.clear();
                return;
            }
            if !self.l(libc::ECHOK) || !self.l(libc::ECHOKE) || !self.l(libc::ECHOE) {
                self.edit.clear();
                let kill = self.termios.c_cc[VKILL];
                self.echo_char(kill);
                if self.l(libc::ECHOK) {
                    self.echo_raw(b"\n");
                }
                return;
            }
        }
        let mut seen_alnum = false;
        while let Some(&c) = self.edit.last() {
            if kind == b'w' {
                if c.is_ascii_alphanumeric() || c == b'_' {
                    seen_alnum = true;
                } else if seen_alnum {
                    break;
                }
            }
            self.edit.pop();
            if self.i(libc::IUTF8) && c & 0xc0 == 0x80 {
                // A UTF-8 character is erased whole: its lead byte and the rest
                // of its continuation bytes go too, with one column of echo.
                while let Some(b) = self.edit.pop() {
                    if b & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            if echo {
                if kind == b'e' && !self.l(libc::ECHOE) {
                    let erase = self.termios.c_cc[VERASE];
                    self.echo_char(erase);
                } else if c == b'\t' {
                    let back = {
                        let before = self.edit_columns();
                        let after = (before | 7) + 1;
                        after - before
                    };
                    for _ in 0..back {
                        self.echo_raw(b"\x08");
                    }
                } else {
                    if is_cntrl(c) && self.l(libc::ECHOCTL) {
                        self.echo_raw(b"\x08 \x08");
                    }
                    if !is_cntrl(c) || self.l(libc::ECHOCTL) {
                        self.echo_raw(b"\x08 \x08");
                    }
                }
            }
            if kind == b'e' {
                break;
            }
        }
    }

    /// Ends the edited line (with `c` stored unless it is the VEOF mark).
    fn commit_line(&mut self, c: Option<u8>) {
        if let Some(c) = c {
            self.edit.push(c);
        }
        self.lines.push_back(self.edit.len());
        self.ready.extend(self.edit.drain(..));
    }

    /// Processes bytes written to the master. Returns how many were taken
    /// (fewer than `data.len()` only in raw mode when the slave's buffer
    /// fills) and the signals to send.
    pub fn receive(&mut self, data: &[u8], fx: &mut Effects) -> usize {
        let mut taken = 0;
        for &b in data {
            if self.input_room() == 0 {
                break;
            }
            taken += 1;
            self.receive_one(b, fx);
        }
        taken
    }

    fn receive_one(&mut self, mut c: u8, fx: &mut Effects) {
        if self.i(libc::ISTRIP) {
            c &= 0x7f;
        }
        if self.lnext {
            // The byte after VLNEXT is ordinary data.
            self.lnext = false;
            self.store(c, true);
            return;
        }
        if c == b'\r' {
            if self.i(libc::IGNCR) {
                return;
            }
            if self.i(libc::ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && self.i(libc::INLCR) {
            c = b'\r';
        }
        if self.i(libc::IXON) && (self.is(c, VSTART) || self.is(c, VSTOP)) {
            // Flow control characters are consumed (output is never stopped here).
            return;
        }
        if self.l(libc::ISIG) {
            let sig = if self.is(c, VINTR) {
                Some(libc::SIGINT)
            } else if self.is(c, VQUIT) {
                Some(libc::SIGQUIT)
            } else if self.is(c, VSUSP) {
                Some(libc::SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                fx.signals.push(sig);
                if !self.l(libc::NOFLSH) {
                    self.flush_input();
                    self.flush_output();
                }
                if self.l(libc::ECHO) {
                    self.echo_char(c);
                }
                return;
            }
        }
        if self.l(libc::IEXTEN) && self.is(c, VLNEXT) {
            self.lnext = true;
            if self.l(libc::ECHO) && self.l(libc::ECHOCTL) {
                self.echo_raw(b"^\x08");
            }
            return;
        }
        if self.canonical() {
            if self.is(c, VERASE) {
                return self.erase(b'e');
            }
            if self.is(c, VKILL) {
                return self.erase(b'k');
            }
            if self.l(libc::IEXTEN) && self.is(c, VWERASE) {
                return self.erase(b'w');
            }
            if self.is(c, VEOF) {
                return self.commit_line(None);
            }
            if c == b'\n' {
                if self.l(libc::ECHO) || self.l(libc::ECHONL) {
                    self.echo_raw(b"\n");
                }
                return self.commit_line(Some(c));
            }
            if self.is(c, VEOL) || (self.l(libc::IEXTEN) && self.is(c, VEOL2)) {
                if self.l(libc::ECHO) {
                    self.echo_char(c);
                }
                return self.commit_line(Some(c));
            }
        }
        self.store(c, false);
    }

    /// Queues an ordinary byte (echoing it); in canonical mode a full
    /// buffer keeps its last slot for the line's end.
    fn store(&mut self, c: u8, literal: bool) {
        if self.canonical() {
            if self.input_len() >= BUF_CAP - 1 {
                return;
            }
            if self.l(libc::ECHO) {
                if literal && self.l(libc::ECHOCTL) && is_cntrl(c) {
                    // Erase the "^" placeholder of VLNEXT first.
                    self.echo_raw(b"\x08");
                }
                self.echo_char(c);
            }
            self.edit.push(c);
        } else {
            if self.l(libc::ECHO) {
                self.echo_char(c);
            }
            self.ready.push_back(c);
        }
    }

    /// A slave read of at most `len` bytes. `None`: nothing to read yet.
    pub fn slave_read(&mut self, len: usize) -> Option<Vec<u8>> {
        if self.canonical() {
            let first = *self.lines.front()?;
            let n = first.min(len);
            let data: Vec<u8> = self.ready.drain(..n).collect();
            if n == first {
                self.lines.pop_front();
            } else if let Some(l) = self.lines.front_mut() {
                *l -= n;
            }
            return Some(data);
        }
        if self.ready.is_empty() {
            return None;
        }
        let n = self.ready.len().min(len);
        Some(self.ready.drain(..n).collect())
    }

    /// Processes bytes the slave writes; returns how many were taken.
    pub fn slave_write(&mut self, data: &[u8]) -> usize {
        let mut taken = 0;
        for &c in data {
            let need = if self.o(libc::OPOST) && c == b'\n' && self.o(libc::ONLCR) { 2 } else { 1 };
            if self.out.len() + need > BUF_CAP {
                break;
            }
            self.put_out(c);
            taken += 1;
        }
        taken
    }

    /// A master read of at most `len` bytes.
    pub fn master_read(&mut self, len: usize) -> Vec<u8> {
        let n = self.out.len().min(len);
        self.out.drain(..n).collect()
    }
}

#[cfg(test)]
mod tests;
