#!/bin/sh
# Groups a `perf record` profile of a server (from `cargo xtask bench --profile SERVER`)
# by thread kind and by where the time goes. Usage: perf-breakdown.sh target/bench/perf-ours.data
set -eu
data=${1:?usage: perf-breakdown.sh PERF_DATA}
report() { perf report -i "$data" --no-children --stdio -g none "$@" 2>/dev/null | grep -v '^#'; }

echo "by thread (the number after the last '-' dropped):"
report --sort comm | awk 'NF==2 { p=$1; sub("%","",p); c=$2; gsub(/-[0-9]+$/,"",c); s[c]+=p }
    END { for (k in s) printf "  %6.2f%%  %s\n", s[k], k }' | sort -nr

echo "by kind of work:"
report --sort sym | awk 'NF>=3 {
    p=$1; sub("%","",p); sym=$3; for (i=4; i<=NF; i++) sym=sym" "$i
    cat="other kernel"
    if (sym ~ /finish_task_switch|__schedule|^schedule|raw_spin_unlock_irqrestore|futex|try_to_wake_up|wake_up|enqueue|dequeue|select_task|update_curr|pick_next|psi_|ttwu|switch_|newidle|load_balance|hrtimer|schedule_timeout/)
        cat="scheduler: sleep and wake-up"
    else if (sym ~ /tcp|ip_|inet|skb|net_|__dev_queue|dev_hard|loopback|sock|__sys_recv|__sys_send|vfs_writev|sendmsg|recvmsg|copy_to_iter|copy_from_iter|_copy|bbr|kmem_cache|kmalloc|page_frag|fdget|do_writev|sk_|__netif|process_backlog|validate_xmit|neigh|raw_spin_lock_bh|csum|iovec|iov_|epoll|ep_/)
        cat="kernel TCP over loopback, socket and epoll syscalls"
    else if (sym ~ /syscall|entry_SYSCALL|do_syscall|exit_to_user|irqentry|__get_user|__put_user|fpregs/)
        cat="syscall entry and exit"
    else if (sym ~ /ws_server|ws_codec|actor_core|bytes::|<ws_|<actor_|std::|core::|alloc::|crossbeam|mio::/)
        cat="our code (Rust, std included)"
    else if (sym ~ /malloc|free|memset|memcpy|memmove|_int_|realloc|arena|tcache/)
        cat="libc allocation and copies"
    else if (sym ~ /pthread|__libc_|writev|epoll_wait|__GI|clock_gettime|vdso/)
        cat="libc syscall wrappers and clock"
    s[cat]+=p }
    END { for (k in s) printf "  %6.2f%%  %s\n", s[k], k }' | sort -nr
