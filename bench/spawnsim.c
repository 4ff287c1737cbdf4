// A model of the engine's spawn loop (bench/README.md, session 15): N `true`
// children at P = 2, each with a prompt file as stdin and two output pipes,
// started three ways, to tell whether the work between an exit and the next
// start costs wall time because of where it sits or because of what it costs.
//
//   e  one thread, epoll on pidfds, as the engine: on an exit, reap, then
//      BK µs of busy "bookkeeping", then prepare the next attempt (the
//      prompt file, the pipes) and start it;
//   w  a thread that blocks in waitid(P_ALL) (a sync wake-up, as make's
//      wait4) reaps and at once starts the next attempt, prepared ahead by
//      the main thread, which does the bookkeeping after, off the path;
//   m  as make: wait4(-1), then prepare and start; no bookkeeping.
//
// Build: cc -O2 -o spawnsim bench/spawnsim.c -lpthread
// Run:   ./spawnsim e|w|m <empty directory on the disk> <BK µs> [N]
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static int N = 1000, P = 2, BK = 60;
static const char *dir;
static char prompt[400];

typedef struct { int in, out[2], err[2]; int used; } Prep;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void busy(int us) { double end = now() + us / 1e6; while (now() < end) {} }

static void prepare(Prep *p, int i) {
  char path[512]; snprintf(path, sizeof path, "%s/T%05d.1.prompt.md", dir, i);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) { perror(path); exit(1); }
  if (write(fd, prompt, sizeof prompt) < 0) exit(1);
  close(fd);
  p->in = open(path, O_RDONLY | O_CLOEXEC);
  if (pipe2(p->out, O_CLOEXEC) || pipe2(p->err, O_CLOEXEC)) exit(1);
  p->used = 0;
}

static pid_t spawn(Prep *p) {
  posix_spawn_file_actions_t a; posix_spawnattr_t at;
  posix_spawn_file_actions_init(&a);
  posix_spawn_file_actions_adddup2(&a, p->in, 0);
  posix_spawn_file_actions_adddup2(&a, p->out[1], 1);
  posix_spawn_file_actions_adddup2(&a, p->err[1], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  char *argv[] = {"true", NULL};
  pid_t pid;
  if (posix_spawn(&pid, "/usr/bin/true", &a, &at, argv, environ)) exit(1);
  posix_spawn_file_actions_destroy(&a); posix_spawnattr_destroy(&at);
  close(p->out[1]); close(p->err[1]);
  return pid;
}

static void finish(Prep *p) { close(p->in); close(p->out[0]); close(p->err[0]); }

// ---- mode e
static void engine(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC), next = 0, running = 0, done = 0;
  Prep slot[64]; int pidfd[64]; pid_t pids[64];
  for (int s = 0; s < P && next < N; s++) {
    prepare(&slot[s], next++); pids[s] = spawn(&slot[s]);
    pidfd[s] = syscall(SYS_pidfd_open, pids[s], 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = s}; epoll_ctl(ep, EPOLL_CTL_ADD, pidfd[s], &ev);
    running++;
  }
  while (done < N) {
    struct epoll_event evs[8]; int n = epoll_wait(ep, evs, 8, -1);
    for (int k = 0; k < n; k++) {
      int s = evs[k].data.u32; int st;
      waitpid(pids[s], &st, 0); epoll_ctl(ep, EPOLL_CTL_DEL, pidfd[s], NULL); close(pidfd[s]);
      finish(&slot[s]); done++; running--;
      busy(BK);
      if (next < N) {
        prepare(&slot[s], next++); pids[s] = spawn(&slot[s]);
        pidfd[s] = syscall(SYS_pidfd_open, pids[s], 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = s}; epoll_ctl(ep, EPOLL_CTL_ADD, pidfd[s], &ev);
        running++;
      }
    }
  }
}

// ---- mode w
static Prep ring[64]; static int head, tail; // prepared, not started
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int efd, started_total;
typedef struct { pid_t pid; Prep p; } Run;
static Run runs[64]; // by slot index
static Prep finished_q[4096]; static int fq_head, fq_tail;

static void *waiter(void *arg) {
  (void)arg;
  int finished = 0;
  while (finished < N) {
    siginfo_t si; memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED) < 0) { if (errno == EINTR) continue; if (errno == ECHILD) { continue; } perror("waitid"); exit(1); }
    finished++;
    pthread_mutex_lock(&mu);
    int s = -1; for (int i = 0; i < P; i++) if (runs[i].pid == si.si_pid) s = i;
    if (s >= 0) {
      finished_q[fq_tail++ % 4096] = runs[s].p; // main closes the old one
      runs[s].pid = 0;
      if (head != tail && started_total < N) {
        Prep p = ring[head++ % 64]; started_total++;
        runs[s].p = p; runs[s].pid = spawn(&runs[s].p);
      }
    }
    pthread_mutex_unlock(&mu);
    uint64_t one = 1; if (write(efd, &one, 8) < 0) exit(1);
  }
  return NULL;
}

static void waiting(void) {
  efd = eventfd(0, EFD_CLOEXEC);
  int next = 0;
  // start P, prepare P ahead
  for (int s = 0; s < P; s++) { prepare(&runs[s].p, next++); runs[s].pid = spawn(&runs[s].p); started_total++; }
  for (int k = 0; k < P && next < N; k++) { prepare(&ring[tail % 64], next++); tail++; }
  pthread_t t; pthread_create(&t, NULL, waiter, NULL);
  int done = 0;
  while (done < N) {
    uint64_t v; if (read(efd, &v, 8) < 0) exit(1);
    for (;;) {
      pthread_mutex_lock(&mu);
      if (fq_head == fq_tail) { pthread_mutex_unlock(&mu); break; }
      Prep f = finished_q[fq_head++ % 4096];
      pthread_mutex_unlock(&mu);
      finish(&f);
      done++;
      busy(BK); // bookkeeping, off the path
      if (next < N) {
        Prep p; prepare(&p, next++);
        pthread_mutex_lock(&mu); ring[tail++ % 64] = p;
        // a slot with no child (the waiter found nothing prepared): start now
        for (int s = 0; s < P; s++) if (runs[s].pid == 0 && head != tail && started_total < N) { runs[s].p = ring[head++ % 64]; runs[s].pid = spawn(&runs[s].p); started_total++; }
        pthread_mutex_unlock(&mu);
      }
    }
  }
  pthread_join(t, NULL);
}

// ---- mode m
static void makelike(void) {
  int next = 0, done = 0; Prep p[64]; pid_t pids[64];
  for (int s = 0; s < P; s++) { prepare(&p[s], next++); pids[s] = spawn(&p[s]); }
  while (done < N) {
    int st; pid_t pid = wait4(-1, &st, 0, NULL); done++;
    for (int s = 0; s < P; s++) if (pids[s] == pid) { finish(&p[s]); if (next < N) { prepare(&p[s], next++); pids[s] = spawn(&p[s]); } }
  }
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "spawnsim e|w|m dir bk_us [n]\n"); return 2; }
  dir = argv[2]; BK = atoi(argv[3]); if (argc > 4) N = atoi(argv[4]);
  memset(prompt, 'x', sizeof prompt);
  double t0 = now();
  if (argv[1][0] == 'e') engine(); else if (argv[1][0] == 'w') waiting(); else makelike();
  printf("%s %.1f ms\n", argv[1], (now() - t0) * 1000);
  return 0;
}
