use super::*;

fn feed(l: &mut Ldisc, s: &[u8]) -> Effects {
    let mut fx = Effects::default();
    assert_eq!(l.receive(s, &mut fx), s.len());
    fx
}

fn echo(l: &mut Ldisc) -> Vec<u8> {
    l.master_read(usize::MAX)
}

#[test]
fn canonical_erase_kill_and_eof() {
    let mut l = Ldisc::new();
    feed(&mut l, b"abc\x7fd\r");
    assert_eq!(echo(&mut l), b"abc\x08 \x08d\r\n");
    assert_eq!(l.slave_read(100).unwrap(), b"abd\n");
    assert!(l.slave_read(100).is_none(), "nothing until the next line ends");
    feed(&mut l, b"xyz\x15ok\n");
    assert_eq!(echo(&mut l), b"xyz\x08 \x08\x08 \x08\x08 \x08ok\r\n");
    assert_eq!(l.slave_read(100).unwrap(), b"ok\n");
    feed(&mut l, b"one two\x17three\n");
    assert_eq!(l.slave_read(100).unwrap(), b"one three\n");
    feed(&mut l, b"tail\x04\x04");
    assert_eq!(l.slave_read(2).unwrap(), b"ta", "a short read leaves the rest of the line");
    assert_eq!(l.slave_read(100).unwrap(), b"il");
    assert_eq!(l.slave_read(100).unwrap(), b"", "VEOF on an empty line reads as end of file");
}

#[test]
fn isig_flushes_and_reports_the_signal() {
    let mut l = Ldisc::new();
    feed(&mut l, b"partial");
    echo(&mut l);
    let fx = feed(&mut l, b"\x03");
    assert_eq!(fx.signals, vec![libc::SIGINT]);
    assert_eq!(echo(&mut l), b"^C");
    feed(&mut l, b"\n");
    assert_eq!(l.slave_read(100).unwrap(), b"\n", "the partial line was flushed");
}

#[test]
fn raw_mode_fills_and_onlcr_applies_to_slave_output() {
    let mut l = Ldisc::new();
    let mut t = l.termios;
    t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
    t.c_iflag = 0;
    l.set_termios(t);
    let mut fx = Effects::default();
    assert_eq!(l.receive(&[b'a'; 5000], &mut fx), BUF_CAP);
    assert_eq!(l.input_room(), 0);
    assert_eq!(l.slave_read(10).unwrap(), b"aaaaaaaaaa");
    assert_eq!(l.slave_write(b"x\ny"), 3);
    assert_eq!(l.master_read(100), b"x\r\ny");
}

#[test]
fn switching_modes_moves_pending_input() {
    let mut l = Ldisc::new();
    feed(&mut l, b"half");
    let mut t = l.termios;
    t.c_lflag &= !libc::ICANON;
    l.set_termios(t);
    assert_eq!(l.slave_read(100).unwrap(), b"half");
}

#[test]
fn iutf8_erases_whole_characters() {
    let mut l = Ldisc::new();
    let mut t = l.termios;
    t.c_iflag |= libc::IUTF8;
    l.set_termios(t);
    feed(&mut l, "aé€\x7f\x7f\n".as_bytes());
    assert_eq!(l.slave_read(100).unwrap(), b"a\n");
    assert_eq!(echo(&mut l), "aé€\x08 \x08\x08 \x08\r\n".as_bytes());
}
