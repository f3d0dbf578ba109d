# What a command's shell starts with, as it could use it: its open descriptors, signal
# mask and ignored signals, uids, limits, OOM score, session, directory and environment.
# The descriptors a program it starts inherits (the shell's own working ones are close-on-exec):
python3 -c "import os; print('fds', *[fd for fd in range(4096) if os.path.exists(f'/proc/self/fd/{fd}')])"
# A program's signal mask and ignored signals as the shell starts it (the shell's own mask
# changes while it waits for a child, so it is read by the child itself):
grep -E '^(SigBlk|SigIgn|Uid|Gid):' /proc/self/status
grep -E '^Max (cpu time|file size|address space|processes) ' /proc/$$/limits
echo "oom $(cat /proc/$$/oom_score_adj)"
echo "session $(cut -d' ' -f6 /proc/$$/stat) pid $$"
echo "cwd $(pwd -P)"
env | sort | sed 's/^/env /'
