//! D-Bus wire format (little-endian only): [`Value`]s with their signatures, marshalling of
//! method calls, and a bounds-checked parser of whole messages (replies, errors, signals).
//!
//! Only what the systemd driver needs, but every basic type and container parses, so any
//! reply or signal on the bus can be skipped safely. The parser never trusts a length: every
//! read is checked against the buffer, nesting is limited, and arrays cannot claim more
//! elements than bytes.

/// One D-Bus value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    Path(String),
    Sig(String),
    /// Element signature, elements (the signature is needed for an empty array).
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    /// A dict entry `{kv}` (only inside arrays).
    Entry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
    /// A unix fd index (`h`).
    Fd(u32),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    /// `v` wrapped in a variant.
    pub fn var(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// This value's signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(e, _) => format!("a{e}"),
            Value::Struct(f) => format!("({})", f.iter().map(Value::signature).collect::<String>()),
            Value::Entry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
            Value::Fd(_) => "h".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(n) => Some(*n),
            _ => None,
        }
    }
}

/// Alignment of the type starting with `c`.
fn align_of(c: u8) -> usize {
    match c {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        _ => 8, // x t d ( {
    }
}

/// A marshalling buffer; offsets (and so padding) are relative to its start, which must be
/// 8-aligned in the message (the header and the body both are).
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, n: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&n.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn sig(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// A fixed-size value, aligned to its size.
    fn fixed(&mut self, align: usize, bytes: &[u8]) {
        self.pad(align);
        self.buf.extend_from_slice(bytes);
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(*b as u32),
            Value::I16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::U16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::I32(n) => self.fixed(4, &n.to_le_bytes()),
            Value::U32(n) | Value::Fd(n) => self.u32(*n),
            Value::I64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::U64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::Double(d) => self.fixed(8, &d.to_le_bytes()),
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => self.sig(s),
            Value::Array(elem, items) => {
                self.pad(4);
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                // Padding to the first element is not part of the length.
                self.pad(align_of(elem.as_bytes().first().copied().unwrap_or(b'y')));
                let start = self.buf.len();
                for it in items {
                    self.value(it);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::Entry(k, v) => {
                self.pad(8);
                self.value(k);
                self.value(v);
            }
            Value::Variant(inner) => {
                self.sig(&inner.signature());
                self.value(inner);
            }
        }
    }
}

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// A parsed message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    pub kind: u8,
    pub serial: u32,
    pub reply_serial: Option<u32>,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    /// The first string of the body (an error's message, a signal's first `s`).
    pub fn first_str(&self) -> Option<&str> {
        self.body.first().and_then(Value::as_str)
    }
}

/// A method call, marshalled with `serial`.
pub fn method_call(
    serial: u32,
    dest: Option<&str>,
    path: &str,
    iface: &str,
    member: &str,
    args: &[Value],
) -> Vec<u8> {
    let mut body = Writer::default();
    for a in args {
        body.value(a);
    }
    let sig: String = args.iter().map(Value::signature).collect();
    let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::var(v)]);
    let mut fields = vec![
        field(1, Value::Path(path.into())),
        field(2, Value::str(iface)),
        field(3, Value::str(member)),
    ];
    if let Some(d) = dest {
        fields.push(field(6, Value::str(d)));
    }
    if !sig.is_empty() {
        fields.push(field(8, Value::Sig(sig)));
    }
    let mut w = Writer::default();
    w.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    w.buf
        .extend_from_slice(&(body.buf.len() as u32).to_le_bytes());
    w.buf.extend_from_slice(&serial.to_le_bytes());
    w.value(&Value::Array("(yv)".into(), fields));
    w.pad(8);
    w.buf.extend_from_slice(&body.buf);
    w.buf
}

/// Largest message we accept (the spec's maximum is 128 MiB; systemd's replies are small).
pub const MAX_MESSAGE: usize = 16 << 20;
const MAX_DEPTH: usize = 32;

/// From the first 16 bytes of a message: its total length, or an error for a header we
/// cannot read (big-endian, bad version, too large).
pub fn message_len(head: &[u8; 16]) -> Result<usize, String> {
    if head[0] != b'l' {
        return Err(format!("unsupported byte order {:?}", head[0] as char));
    }
    if head[3] != 1 {
        return Err(format!("unsupported protocol version {}", head[3]));
    }
    let body = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
    let fields = u32::from_le_bytes(head[12..16].try_into().unwrap()) as usize;
    let total = (16 + fields).div_ceil(8) * 8 + body;
    if body > MAX_MESSAGE || fields > MAX_MESSAGE || total > MAX_MESSAGE {
        return Err(format!("message of {total} bytes is too large"));
    }
    Ok(total)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn align(&mut self, a: usize) -> Result<(), String> {
        let to = self.pos.div_ceil(a) * a;
        if to > self.buf.len() {
            return Err("truncated message".into());
        }
        self.pos = to;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or("truncated message")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], String> {
        self.align(N)?;
        Ok(self.take(N)?.try_into().unwrap())
    }

    fn string(&mut self, len: usize) -> Result<String, String> {
        let s = self.take(len)?.to_vec();
        if self.take(1)? != [0] {
            return Err("string not nul-terminated".into());
        }
        String::from_utf8(s).map_err(|_| "string is not UTF-8".into())
    }

    /// A signature is ASCII type codes; checking that here lets `value` slice it by bytes.
    fn signature(&mut self) -> Result<String, String> {
        let n = self.take(1)?[0] as usize;
        let s = self.string(n)?;
        if !s.is_ascii() {
            return Err("signature is not ASCII".into());
        }
        Ok(s)
    }

    /// One value of the single complete type at the start of `sig`; returns it and the rest.
    fn value<'s>(&mut self, sig: &'s str, depth: usize) -> Result<(Value, &'s str), String> {
        if depth > MAX_DEPTH {
            return Err("value nested too deeply".into());
        }
        let c = *sig.as_bytes().first().ok_or("empty signature")?;
        let rest = &sig[1..];
        let v = match c {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match u32::from_le_bytes(self.fixed()?) {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(format!("boolean {n}")),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::U32(u32::from_le_bytes(self.fixed()?)),
            b'h' => Value::Fd(u32::from_le_bytes(self.fixed()?)),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed()?)),
            b's' | b'o' => {
                let n = u32::from_le_bytes(self.fixed()?) as usize;
                let s = self.string(n)?;
                if c == b's' {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => Value::Sig(self.signature()?),
            b'v' => {
                let s = self.signature()?;
                let (v, left) = self.value(&s, depth + 1)?;
                if !left.is_empty() {
                    return Err(format!("variant signature {s:?} is not one type"));
                }
                Value::var(v)
            }
            b'a' => {
                let elem_len = single_type_len(rest)?;
                let elem = &rest[..elem_len];
                let n = u32::from_le_bytes(self.fixed()?) as usize;
                if n > 64 << 20 {
                    return Err("array too long".into());
                }
                self.align(align_of(elem.as_bytes()[0]))?;
                let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
                let end = end.ok_or("truncated message")?;
                let mut items = Vec::new();
                while self.pos < end {
                    let (v, _) = self.value(elem, depth + 1)?;
                    items.push(v);
                }
                if self.pos != end {
                    return Err("array elements overrun its length".into());
                }
                return Ok((Value::Array(elem.to_string(), items), &rest[elem_len..]));
            }
            b'(' => {
                self.align(8)?;
                let mut fields = Vec::new();
                let mut s = rest;
                loop {
                    match s.as_bytes().first() {
                        Some(b')') => break,
                        Some(_) => {
                            let (v, left) = self.value(s, depth + 1)?;
                            fields.push(v);
                            s = left;
                        }
                        None => return Err("unterminated struct signature".into()),
                    }
                }
                if fields.is_empty() {
                    return Err("empty struct".into());
                }
                return Ok((Value::Struct(fields), &s[1..]));
            }
            b'{' => {
                self.align(8)?;
                let (k, s) = self.value(rest, depth + 1)?;
                let (v, s) = self.value(s, depth + 1)?;
                let s = s.strip_prefix('}').ok_or("bad dict entry signature")?;
                return Ok((Value::Entry(Box::new(k), Box::new(v)), s));
            }
            other => return Err(format!("unknown type code {:?}", other as char)),
        };
        Ok((v, rest))
    }
}

/// Length of the single complete type at the start of `sig`.
fn single_type_len(sig: &str) -> Result<usize, String> {
    let b = sig.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'a') {
        i += 1;
    }
    match b.get(i) {
        None => Err(format!("incomplete signature {sig:?}")),
        Some(b'(') | Some(b'{') => {
            let mut depth = 0;
            for (j, c) in b.iter().enumerate().skip(i) {
                match c {
                    b'(' | b'{' => depth += 1,
                    b')' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
            }
            Err(format!("unbalanced signature {sig:?}"))
        }
        Some(_) => Ok(i + 1),
    }
}

/// Parse one whole message (as long as [`message_len`] said).
pub fn parse(buf: &[u8]) -> Result<Message, String> {
    let head: &[u8; 16] = buf
        .get(..16)
        .and_then(|h| h.try_into().ok())
        .ok_or("truncated message")?;
    let total = message_len(head)?;
    if buf.len() < total {
        return Err("truncated message".into());
    }
    let body_len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
    let mut m = Message {
        kind: head[1],
        serial: u32::from_le_bytes(head[8..12].try_into().unwrap()),
        ..Message::default()
    };
    let mut r = Reader {
        buf: &buf[..total],
        pos: 12,
    };
    let (fields, _) = r.value("a(yv)", 0)?;
    let mut sig = String::new();
    if let Value::Array(_, fields) = fields {
        for f in fields {
            let Value::Struct(f) = f else { continue };
            let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else {
                continue;
            };
            let s = v.as_str().map(str::to_string);
            match code {
                1 => m.path = s,
                2 => m.interface = s,
                3 => m.member = s,
                4 => m.error_name = s,
                5 => m.reply_serial = v.as_u32(),
                7 => m.sender = s,
                8 => match &**v {
                    Value::Sig(s) => sig = s.clone(),
                    _ => return Err("SIGNATURE header field is not a signature".into()),
                },
                _ => {}
            }
        }
    }
    r.align(8)?;
    if r.buf.len() - r.pos != body_len {
        return Err("body length mismatch".into());
    }
    let mut s = sig.as_str();
    while !s.is_empty() {
        let (v, left) = r.value(s, 0)?;
        m.body.push(v);
        s = left;
    }
    if r.pos != r.buf.len() {
        return Err("body longer than its signature".into());
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: &Value) -> Vec<u8> {
        let mut w = Writer::default();
        w.value(v);
        w.buf
    }

    #[test]
    fn basic_marshalling_and_padding() {
        assert_eq!(body(&Value::U32(1)), [1, 0, 0, 0]);
        assert_eq!(body(&Value::str("ab")), [2, 0, 0, 0, b'a', b'b', 0]);
        assert_eq!(body(&Value::Sig("s".into())), [1, b's', 0]);
        assert_eq!(body(&Value::Bool(true)), [1, 0, 0, 0]);
        // A variant of a uint64: signature, then padding to 8.
        assert_eq!(
            body(&Value::var(Value::U64(7))),
            [1, b't', 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        );
        // Empty array of structs: length 0, padded to 8 for the (absent) first element.
        assert_eq!(
            body(&Value::Array("(sv)".into(), vec![])),
            [0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            body(&Value::Array(
                "y".into(),
                vec![Value::Byte(3), Value::Byte(5)]
            )),
            [2, 0, 0, 0, 3, 5]
        );
    }

    #[test]
    fn signatures() {
        let prop = Value::Struct(vec![Value::str("Delegate"), Value::var(Value::Bool(true))]);
        assert_eq!(prop.signature(), "(sv)");
        let aux = Value::Array("(sa(sv))".into(), vec![]);
        assert_eq!(aux.signature(), "a(sa(sv))");
        assert_eq!(single_type_len("a{sv}s").unwrap(), 5);
        assert_eq!(single_type_len("a(sa(sv))").unwrap(), 9);
        assert!(single_type_len("a(s").is_err());
    }

    #[test]
    fn call_round_trips_through_the_parser() {
        let props = Value::Array(
            "(sv)".into(),
            vec![
                Value::Struct(vec![Value::str("Delegate"), Value::var(Value::Bool(true))]),
                Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::var(Value::Array("u".into(), vec![Value::U32(42)])),
                ]),
                Value::Struct(vec![
                    Value::str("MemoryMax"),
                    Value::var(Value::U64(1 << 25)),
                ]),
            ],
        );
        let args = [
            Value::str("oxirun-c1.scope"),
            Value::str("fail"),
            props,
            Value::Array("(sa(sv))".into(), vec![]),
        ];
        let msg = method_call(
            7,
            Some("org.freedesktop.systemd1"),
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            &args,
        );
        assert_eq!(
            message_len(msg[..16].try_into().unwrap()).unwrap(),
            msg.len()
        );
        let m = parse(&msg).unwrap();
        assert_eq!(m.kind, METHOD_CALL);
        assert_eq!(m.serial, 7);
        assert_eq!(m.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(m.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(m.body, args);
    }

    /// A reply as a bus sends it: header fields REPLY_SERIAL, SENDER, SIGNATURE.
    fn reply(kind: u8, reply_to: u32, sig: &str, args: &[Value]) -> Vec<u8> {
        let mut b = Writer::default();
        for a in args {
            b.value(a);
        }
        let f = |c: u8, v: Value| Value::Struct(vec![Value::Byte(c), Value::var(v)]);
        let mut fields = vec![f(5, Value::U32(reply_to)), f(7, Value::str(":1.0"))];
        if kind == ERROR {
            fields.push(f(4, Value::str("org.freedesktop.DBus.Error.Failed")));
        }
        fields.push(f(8, Value::Sig(sig.into())));
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', kind, 1, 1]);
        w.buf.extend_from_slice(&(b.buf.len() as u32).to_le_bytes());
        w.buf.extend_from_slice(&9u32.to_le_bytes());
        w.value(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&b.buf);
        w.buf
    }

    #[test]
    fn parses_replies_errors_and_signals() {
        let r = parse(&reply(
            METHOD_RETURN,
            3,
            "o",
            &[Value::Path("/org/freedesktop/systemd1/job/12".into())],
        ))
        .unwrap();
        assert_eq!(r.reply_serial, Some(3));
        assert_eq!(r.first_str(), Some("/org/freedesktop/systemd1/job/12"));
        let e = parse(&reply(
            ERROR,
            4,
            "s",
            &[Value::str("Unit x.scope already exists.")],
        ))
        .unwrap();
        assert_eq!(
            e.error_name.as_deref(),
            Some("org.freedesktop.DBus.Error.Failed")
        );
        assert_eq!(e.first_str(), Some("Unit x.scope already exists."));
        let s = parse(&reply(
            SIGNAL,
            0,
            "uoss",
            &[
                Value::U32(12),
                Value::Path("/j/12".into()),
                Value::str("a.scope"),
                Value::str("done"),
            ],
        ))
        .unwrap();
        assert_eq!(s.body.len(), 4);
        assert_eq!(s.body[3], Value::str("done"));
        // Dicts and nested variants parse too.
        let d = parse(&reply(
            METHOD_RETURN,
            5,
            "a{sv}",
            &[Value::Array(
                "{sv}".into(),
                vec![Value::Entry(
                    Box::new(Value::str("k")),
                    Box::new(Value::var(Value::var(Value::I64(-1)))),
                )],
            )],
        ))
        .unwrap();
        assert_eq!(d.body[0].signature(), "a{sv}");
    }

    #[test]
    fn rejects_malformed_messages() {
        let good = reply(METHOD_RETURN, 3, "s", &[Value::str("hello")]);
        // Every truncation is an error, never a panic.
        for n in 0..good.len() {
            assert!(parse(&good[..n]).is_err(), "truncated at {n}");
        }
        let mut big = good.clone();
        big[0] = b'B';
        assert!(parse(&big).is_err());
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge).is_err());
        // A string claiming more bytes than the body holds.
        let mut bad = good.clone();
        let at = bad.len() - 10;
        bad[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(parse(&bad).is_err());
        // Deep nesting is bounded.
        let nested = (0..40).fold(Value::Byte(1), |v, _| Value::var(v));
        let deep = reply(METHOD_RETURN, 1, "v", &[nested]);
        assert_eq!(parse(&deep).unwrap_err(), "value nested too deeply");
    }

    /// The fuzzer's find: a variant whose signature starts with a multi-byte UTF-8 character
    /// made `value` slice inside it and panic. Signatures are ASCII; anything else is an error.
    #[test]
    fn rejects_non_ascii_signatures() {
        let msg = reply(METHOD_RETURN, 3, "v", &[Value::var(Value::Byte(1))]);
        let at = msg.len() - 4; // the variant: len 1, 'y', nul, the byte
        assert_eq!(&msg[at..], [1, b'y', 0, 1]);
        for code in ["\u{e9}", "a\u{e9}"] {
            let mut bad = msg[..at].to_vec();
            bad.push(code.len() as u8);
            bad.extend_from_slice(code.as_bytes());
            bad.extend_from_slice(&[0, 1]);
            let body_len = (bad.len() - at) as u32;
            bad[4..8].copy_from_slice(&body_len.to_le_bytes());
            assert_eq!(
                parse(&bad).unwrap_err(),
                "signature is not ASCII",
                "{code:?}"
            );
        }
        // A SIGNATURE header field carried as a string (not type 'g') is refused too.
        let f = |c: u8, v: Value| Value::Struct(vec![Value::Byte(c), Value::var(v)]);
        let mut w = Writer::default();
        w.buf
            .extend_from_slice(&[b'l', METHOD_RETURN, 1, 1, 0, 0, 0, 0, 9, 0, 0, 0]);
        w.value(&Value::Array(
            "(yv)".into(),
            vec![f(5, Value::U32(1)), f(8, Value::str("\u{e9}"))],
        ));
        w.pad(8);
        assert_eq!(
            parse(&w.buf).unwrap_err(),
            "SIGNATURE header field is not a signature"
        );
    }
}
