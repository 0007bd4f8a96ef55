/* rss-exec OUT PROGRAM ARGS...: runs PROGRAM as a child of this process, waits for it,
 * writes its ru_maxrss (KiB) and a newline to the file OUT, and exits with its status (128+N
 * after signal N). No libc: this process is a few pages, so the child's ru_maxrss starts from
 * almost nothing. The kernel folds the RSS high-water mark of the address space a process was
 * forked with into its ru_maxrss at execve, so a child of the bench itself can never report
 * less than the bench's own RSS (~2.8 MiB). x86_64 only. */
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_fork 57
#define SYS_execve 59
#define SYS_exit_group 231
#define SYS_wait4 61

static long sys(long n, long a, long b, long c, long d) {
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
}

static void out(const char *path, long kib) {
    char buf[24];
    int i = sizeof buf;
    buf[--i] = '\n';
    do {
        buf[--i] = (char)('0' + kib % 10);
        kib /= 10;
    } while (kib && i > 0);
    long fd = sys(SYS_open, (long)path, 01 | 0100 | 01000 /* O_WRONLY|O_CREAT|O_TRUNC */, 0644, 0);
    if (fd >= 0) {
        sys(SYS_write, fd, (long)(buf + i), (long)(sizeof buf - i), 0);
        sys(SYS_close, fd, 0, 0, 0);
    }
}

void cmain(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc < 3)
        sys(SYS_exit_group, 2, 0, 0, 0);
    long pid = sys(SYS_fork, 0, 0, 0, 0);
    if (pid == 0) {
        sys(SYS_execve, (long)argv[2], (long)(argv + 2), (long)envp, 0);
        sys(SYS_exit_group, 127, 0, 0, 0);
    }
    int status = 0;
    long ru[18] = {0}; /* struct rusage: two timevals, then ru_maxrss */
    if (pid < 0 || sys(SYS_wait4, pid, (long)&status, 0, (long)ru) != pid)
        sys(SYS_exit_group, 126, 0, 0, 0);
    out(argv[1], ru[4]);
    if ((status & 0x7f) == 0)
        sys(SYS_exit_group, (status >> 8) & 0xff, 0, 0, 0);
    sys(SYS_exit_group, 128 + (status & 0x7f), 0, 0, 0);
}

__attribute__((naked)) void _start(void) {
    __asm__("mov %rsp, %rdi\n and $-16, %rsp\n call cmain\n hlt\n");
}
