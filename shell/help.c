/* help.c - built-in documentation: help(), help(obj), help "topic".
 * One entry per function: its signature and one line. The full text is
 * vqsim-lua(7); keep the two in step.
 */
#include <string.h>

#include "lvq.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

struct help_entry {
	const char *topic;
	const char *name;   /* "machine:run", "vqsim.machine", "eq" */
	const char *sig;
	const char *line;
};

static const struct {
	const char *name;
	const char *intro;
} topics[] = {
	{"vqsim", "The vqsim module: constructors, constants and names."},
	{"machine", "A machine: guest RAM, virtio-mmio devices, interrupt lines and one\n"
		    "deterministic event queue. Nothing runs until you run/step it."},
	{"mem", "Guest memory (m.mem): bytes, little-endian scalars, injected faults.\n"
		"Addresses and sizes take integers or strings such as \"16M\"."},
	{"device", "A device (m:add): raw mmio registers, status, features, the device's\n"
		   "view of its queues. Register writes return true, or false, ERRNAME,\n"
		   "message when the device refuses them. Registers by name: vqsim.regs."},
	{"driver", "The reference driver (m:driver(dev)): spec 3.1.1 init sequence, queues,\n"
		   "a guest heap for rings and buffers, and per-device helpers."},
	{"ring", "A queue (d:queue(i) or dev:ring(i)): the driver's operations and raw\n"
		 "access to the split ring in guest memory, for playing a broken driver.\n"
		 "print(q) shows the descriptor table, avail and used rings."},
	{"devring", "A device-side ring (m:device_ring{...}): the script plays the device.\n"
		    "Pops are validated as a device's are; ring errors are results (nil,\n"
		    "ERRNAME, detail), and the ring stays broken until reset() + init()."},
	{"trace", "Tracing: one line per event, stamped with the virtual clock, or one\n"
		  "JSON object per line (format=\"json\": time, seq, kind, dev, queue, text,\n"
		  "then the kind's fields). Kinds: reg notify chain used irq status features\n"
		  "config error fault device machine."},
	{"debug", "Breakpoints on trace events, watchpoints on guest-memory writes,\n"
		  "stepping: m:run() and m:continue() stop after the event that hits and\n"
		  "return it; m:step() returns the events one machine event emitted."},
	{"fault", "Fault injection: m:fault{point=, trigger=, action=} arms a fault at a\n"
		  "named point (mem.read mem.write blk.read blk.write blk.flush blk.discard\n"
		  "net.tx net.rx console.write notify irq dev.pop); triggers nth, every,\n"
		  "prob (seeded PRNG), gpa/sector ranges, time window, dev, max. Each fault\n"
		  "that fires is a 'fault' trace event. Full text: vqsim-lua(7)."},
	{"test", "The test library (scripts/lib/test.lua), loaded in every state:\n"
		 "test blocks tagged with spec sections, assertions printing expected vs\n"
		 "actual. vqsim --test PATH... prints TAP."},
};

static const struct help_entry entries[] = {
	{"vqsim", "vqsim.machine", "vqsim.machine{seed=N, ram=\"64M\", ram_base=0x40000000}",
	 "new machine; ram=false for none (default seed: vqsim.seed)"},
	{"vqsim", "vqsim.errname", "vqsim.errname(code)", "symbolic name of an error code"},
	{"vqsim", "vqsim.strerror", "vqsim.strerror(code)", "the rule an error code stands for"},
	{"vqsim", "vqsim.size", "vqsim.size(\"16M\")", "parse a size string to bytes"},
	{"vqsim", "vqsim.hexdump", "vqsim.hexdump(str [, addr])", "hexdump of a string"},
	{"vqsim", "vqsim.devices", "vqsim.devices()", "list of device types {name, summary, options}"},
	{"vqsim", "vqsim.pretty", "vqsim.pretty(v [, top])",
	 "readable one-value summary; top: as the REPL prints it (integers also in hex)"},
	{"vqsim", "vqsim.show", "vqsim.show(...)", "print values the way the REPL does"},
	{"vqsim", "vqsim.version", "vqsim.version", "version string"},
	{"vqsim", "vqsim.seed", "vqsim.seed", "seed from --seed (default 1)"},
	{"vqsim", "vqsim.libdir", "vqsim.libdir",
	 "directory of prelude.lua and test.lua (first on package.path)"},
	{"vqsim", "vqsim.features", "vqsim.features", "feature name -> bit (EVENT_IDX = 29, ...)"},
	{"vqsim", "vqsim.dev_features", "vqsim.dev_features",
	 "device-specific names by type: dev_features.blk.FLUSH = 9, .net, .console, .balloon,"
	 "\n      .rng (empty)"},
	{"vqsim", "vqsim.status", "vqsim.status", "status bit names -> values"},
	{"vqsim", "vqsim.regs", "vqsim.regs", "mmio register names -> offsets"},
	{"vqsim", "vqsim.E", "vqsim.E", "error names -> codes (RING_HEAD, ...)"},
	{"vqsim", "vqsim.flags", "vqsim.flags", "NEXT WRITE INDIRECT NO_INTERRUPT NO_NOTIFY"},

	{"machine", "machine:add_ram", "m:add_ram(gpa, size)", "add a page-aligned RAM region"},
	{"machine", "machine:add", "m:add(type [, {transport=, base=, irq=, name=, opt=...}])",
	 "add a device on virtio-mmio or pci (vqsim.defaults.transport); other fields are "
	 "device options; type \"vhost-user\" with socket=, type= is an outside back-end "
	 "(vqsim is its front-end; see dev.outside)"},
	{"machine", "machine:msi", "m:msi()", "MSI messages kept {time, addr, data, dev}, and count"},
	{"machine", "machine:device", "m:device(name | index)", "a device by name or index (0-based)"},
	{"machine", "machine:devices", "m:devices()", "list of devices"},
	{"machine", "machine:driver", "m:driver(dev [, {heap=, heap_size=, msix=}])",
	 "attach a reference driver (default heap: 8 MiB from the top of RAM)"},
	{"machine", "machine:run", "m:run([max])",
	 "run events until none is left; returns the count[, the breakpoint hit]"},
	{"machine", "machine:step", "m:step()",
	 "run one event: true, {events it emitted}[, hit]; false if none was queued"},
	{"machine", "machine:run_until", "m:run_until(fn [, max])",
	 "step until fn() is true; returns ok, events"},
	{"machine", "machine:poll", "m:poll([ms])", "poll backend file descriptors once"},
	{"machine", "machine:pending", "m:pending()", "events waiting in the queue"},
	{"machine", "machine:stats", "m:stats()", "counters: events, reg_reads, notifies, ..."},
	{"machine", "machine:trace",
	 "m:trace(true | false | path [, {kinds={...}}]) or m:trace{capture=, kinds=}",
	 "trace to stdout, off, a file; or capture for m:trace_log() (capture=false: off)"},
	{"machine", "machine:trace_log", "m:trace_log()", "captured trace lines since the last call"},
	{"machine", "machine:irq", "m:irq(line)", "level and rising-edge count of an interrupt line"},
	{"machine", "machine:read", "m:read(gpa [, width])", "bus read; value [, ERRNAME]"},
	{"machine", "machine:write", "m:write(gpa, v [, width])", "bus write; true | false, ERRNAME, msg"},
	{"machine", "machine:reseed", "m:reseed(n)", "re-seed the machine's PRNG"},
	{"machine", "machine:iommu_map", "m:iommu_map{iova=, gpa=, len= [, write=]}",
	 "map an IOVA range in the IOMMU (ACCESS_PLATFORM)"},
	{"machine", "machine:iommu_unmap", "m:iommu_unmap{iova=, len=}",
	 "unmap IOVA pages; bytes that were mapped"},
	{"machine", "machine:iommu_mappings", "m:iommu_mappings()",
	 "IOMMU mappings {iova, gpa, len, write} in IOVA order"},
	{"machine", "m.now", "m.now, m.seed, m.mem", "virtual time (ns), seed, guest memory"},
	{"fault", "machine:fault",
	 "m:fault{point=, trigger={nth=|every=|prob=|gpa=|sector=|time=|dev=}, action=, max=}",
	 "arm a fault; returns its id"},
	{"fault", "fault.actions",
	 "mem: fail corrupt(xor=,fill=)  blk: ioerr short(bytes=)  net: drop dup reorder",
	 "corrupt(offset=)  console: hangup  notify: drop dup delay(delay=) spurious  "
	 "irq: drop dup delay  dev.pop: needs_reset reset config"},
	{"fault", "machine:unfault", "m:unfault([id])", "disarm fault id, or every fault"},
	{"fault", "machine:faults", "m:faults()",
	 "armed faults: {id, point, action, trigger, hits, fired, max}"},

	{"mem", "mem:read", "mem:read(gpa, len)", "bytes as a string"},
	{"mem", "mem:write", "mem:write(gpa, str)", "store a string"},
	{"mem", "mem:fill", "mem:fill(gpa, len, byte)", "set len bytes"},
	{"mem", "mem:u8", "mem:u8(gpa [, v])", "read or write a byte (u16, u32, u64 alike)"},
	{"mem", "mem:u16", "mem:u16(gpa [, v])", "little-endian 16-bit read or write"},
	{"mem", "mem:u32", "mem:u32(gpa [, v])", "little-endian 32-bit read or write"},
	{"mem", "mem:u64", "mem:u64(gpa [, v])", "little-endian 64-bit read or write"},
	{"mem", "mem:fault", "mem:fault(gpa, len [, \"r\"|\"w\"|\"rw\"])",
	 "inject a fault: device accesses there fail; returns an id"},
	{"mem", "mem:unfault", "mem:unfault([id])", "remove a fault (all without id)"},
	{"mem", "mem:fault_hits", "mem:fault_hits(id)", "accesses a fault refused"},
	{"mem", "mem:hexdump", "mem:hexdump(gpa [, len])", "hexdump as a string (default 64 bytes)"},
	{"mem", "mem:dump", "mem:dump(gpa [, len])", "print a hexdump"},
	{"mem", "mem:regions", "mem:regions()", "list of {gpa, size, name}"},
	{"mem", "mem:stats", "mem:stats()", "translations, refused, fault_hits"},

	{"device", "device:read", "dev:read(reg [, width])", "raw register read; value [, ERRNAME]"},
	{"device", "device:write", "dev:write(reg, v [, width])",
	 "raw register write; true | false, ERRNAME, message"},
	{"device", "device:reg", "dev:reg(name [, v])", "read or write a register by name"},
	{"device", "device:pci_read", "dev:pci_read(off [, width])", "pci: config space read"},
	{"device", "device:pci_write", "dev:pci_write(off, v [, width])", "pci: config space write"},
	{"device", "device:bar_read", "dev:bar_read(off [, width])", "pci: BAR 0 read"},
	{"device", "device:bar_write", "dev:bar_write(off, v [, width])", "pci: BAR 0 write"},
	{"device", "device:msix", "dev:msix(vector)", "pci: {addr, data, masked, pending, enabled}"},
	{"device", "device:pci_ids", "dev:pci_ids([{vendor=, device=, revision=, subsystem=, ...}])",
	 "pci quirk: present other ids; returns the ids presented"},
	{"device", "device:pci_add_cap", "dev:pci_add_cap{type=, bar=, offset=, length=, cap_len=, last=}",
	 "pci quirk: an extra capability first (last) on the list; its offset"},
	{"device", "device:pci_hide_cap", "dev:pci_hide_cap(\"common\"|...|\"msix\"|offset)",
	 "pci quirk: take a capability off the list"},
	{"device", "device:status_str", "dev:status_str([status])", "status as \"ACKNOWLEDGE|DRIVER\""},
	{"device", "device:has", "dev:has(feature)", "is the feature negotiated?"},
	{"device", "device:stats", "dev:stats()", "notifies, chains, used, interrupts, errors, ..."},
	{"device", "device:queue", "dev:queue(i)", "snapshot of the device's view of queue i"},
	{"device", "device:ring", "dev:ring(i)", "raw ring view at the addresses the device has"},
	{"device", "device:reset", "dev:reset()", "write 0 to Status"},
	{"device", "device:config", "dev:config(off [, len])", "config space bytes, device side"},
	{"device", "device:receive", "net:receive(frame)",
	 "virtio-net: a frame arrives from the network (drops are counted)"},
	{"device", "device:set_link", "net:set_link(up)", "virtio-net: link up/down (config interrupt)"},
	{"device", "device:announce", "net:announce()",
	 "virtio-net: ask the guest to announce itself (GUEST_ANNOUNCE)"},
	{"device", "device:set_target", "balloon:set_target(pages)",
	 "virtio-balloon: set num_pages (config interrupt)"},
	{"device", "device:target", "balloon:target()", "virtio-balloon: num_pages"},
	{"device", "device:actual", "balloon:actual()", "virtio-balloon: actual as the driver wrote it"},
	{"device", "device:request_stats", "balloon:request_stats()",
	 "virtio-balloon: return the held stats buffer to ask for fresh stats"},
	{"device", "device:inflated", "balloon:inflated(pfn)", "virtio-balloon: is pfn in the balloon?"},
	{"device", "device:port_write", "console:port_write(port, data)",
	 "virtio-console: host sends to the guest; returns bytes accepted"},
	{"device", "device:port_read", "console:port_read(port [, max])",
	 "virtio-console: what the guest wrote on a buffer port"},
	{"device", "device:resize", "console:resize(cols, rows)", "virtio-console: new console size"},
	{"device", "device:port_state", "console:port_state(port)",
	 "virtio-console: guest_open, host_connected, to_guest, from_guest, pty"},
	{"device", "device:pty_path", "console:pty_path(port)",
	 "virtio-console: the slave path (/dev/pts/N) of a pty port, else nil"},
	{"device", "device.stats", "dev:stats().req_in .tx_frames .balloon_pages .ports[0] ...",
	 "stats also carry the device type's counters (blk, net, balloon, console)"},
	{"device", "dev.name", "dev.name .type .id .base .irq .status .needs_reset",
	 "identity and state"},
	{"device", "dev.outside", "dev.outside.kicks .calls .used_seen .dead .last_error ...",
	 "a vhost-user front-end device: what its back-end did; nil for vqsim's own devices"},
	{"device", "dev.features", "dev.features .offered .error .error_msg .nqueues",
	 "negotiated/offered feature names, last rule broken"},

	{"driver", "driver:init", "d:init{features={...}, queues=n}",
	 "reset, negotiate, set up queues, DRIVER_OK; returns d"},
	{"driver", "driver:negotiate", "d:negotiate{\"EVENT_IDX\", ...}",
	 "steps 1-6 of spec 3.1.1; returns the negotiated list"},
	{"driver", "driver:setup_queue", "d:setup_queue(i [, num])", "lay out queue i; returns it"},
	{"driver", "driver:driver_ok", "d:driver_ok()", "set DRIVER_OK"},
	{"driver", "driver:reset", "d:reset()", "write 0 to Status, forget queues"},
	{"driver", "driver:status_str", "d:status_str()", "status register as names"},
	{"driver", "driver:features", "d:features()", "negotiated feature names"},
	{"driver", "driver:offered", "d:offered()", "feature names the device offered"},
	{"driver", "driver:has", "d:has(feature)", "is the feature negotiated?"},
	{"driver", "driver:alloc", "d:alloc(size [, align])", "guest memory from the driver heap"},
	{"driver", "driver:queue", "d:queue(i)", "the driver's queue i"},
	{"driver", "driver:ack", "d:ack()", "read and acknowledge InterruptStatus"},
	{"driver", "driver:config_read", "d:config_read(off, len)", "config bytes (generation loop)"},
	{"driver", "driver:config_write", "d:config_write(off, str)", "write config bytes"},
	{"driver", "driver:submit", "d:submit(q, bufs)", "add, kick, wait, reap; returns used len"},
	{"driver", "driver:rng_read", "d:rng_read(n)", "virtio-rng: up to n random bytes"},
	{"driver", "d.status", "d.status .device .device_id .heap .heap_size .heap_free",
	 "status byte, device object, device type id, heap address, size, bytes left"},
	{"driver", "d.config_irqs", "d.config_irqs .vring_irqs",
	 "config-change and used-buffer interrupts the driver has acknowledged"},
	{"driver", "d.pci", "d.pci",
	 "pci: what the probe chose (bar_index, bar, common, notify, isr, device_cfg, ..._len)"},
	{"driver", "driver.helpers", "blk_*, net_*, balloon_*, console_* (below)",
	 "device answers come back as names (\"OK\", \"IOERR\", \"UNSUPP\"; net \"OK\", \"ERR\");"
	 "\n      no answer at all (NEEDS_RESET, heap exhausted, transport error) raises"},
	{"driver", "driver:blk_read", "d:blk_read(sector, nbytes)",
	 "virtio-blk IN: the data, or nil, \"IOERR\"|\"UNSUPP\""},
	{"driver", "driver:blk_write", "d:blk_write(sector, data)", "virtio-blk OUT; returns the status name"},
	{"driver", "driver:blk_flush", "d:blk_flush()", "VIRTIO_BLK_T_FLUSH; returns the status name"},
	{"driver", "driver:blk_get_id", "d:blk_get_id()",
	 "VIRTIO_BLK_T_GET_ID: the serial (NULs stripped), or nil, status"},
	{"driver", "driver:blk_discard", "d:blk_discard(sector, nsectors)",
	 "VIRTIO_BLK_T_DISCARD of one range; returns the status name"},
	{"driver", "driver:blk_write_zeroes", "d:blk_write_zeroes(sector, nsectors [, unmap])",
	 "VIRTIO_BLK_T_WRITE_ZEROES of one range; returns the status name"},
	{"driver", "driver:blk_capacity", "d:blk_capacity()", "capacity in 512-byte sectors (config)"},
	{"driver", "driver:blk_used_len", "d:blk_used_len()", "used length of the last blk request"},
	{"driver", "driver:net_init", "d:net_init{features={...}, rx_buf_len=, rx_bufs=, no_rx=}",
	 "virtio-net init: every pair, controlq, rx buffers posted; returns d"},
	{"driver", "driver:net_send", "d:net_send(frame [, pair [, hdr]])",
	 "send a frame (hdr: {flags=, gso_type=, csum_start=, ...}); waits for used"},
	{"driver", "driver:net_recv", "d:net_recv([pair])",
	 "next received frame and its header table, or nil; reposts buffers"},
	{"driver", "driver:net_post_rx", "d:net_post_rx(n [, pair])", "post up to n more rx buffers"},
	{"driver", "driver:net_ctrl", "d:net_ctrl(class, cmd [, data])",
	 "control command (\"RX\", \"PROMISC\", \"\\1\" or numbers): \"OK\"|\"ERR\""},
	{"driver", "driver:net_set_pairs", "d:net_set_pairs(n)", "MQ_VQ_PAIRS_SET: \"OK\"|\"ERR\""},
	{"driver", "driver:net_mac", "d:net_mac()", "config mac as \"52:54:00:12:34:56\""},
	{"driver", "driver:balloon_init", "d:balloon_init{features={...}, poison=}",
	 "virtio-balloon init (queues per spec 5.5.2, first stats buffer); returns d"},
	{"driver", "driver:balloon_inflate", "d:balloon_inflate{pfn, ...}",
	 "give 4 KiB pages to the balloon (batches of 256)"},
	{"driver", "driver:balloon_deflate", "d:balloon_deflate{pfn, ...}", "take pages back"},
	{"driver", "driver:balloon_set_actual", "d:balloon_set_actual(n)", "write actual to config"},
	{"driver", "driver:balloon_target", "d:balloon_target()", "num_pages, the host's target"},
	{"driver", "driver:balloon_stats_requested", "d:balloon_stats_requested()",
	 "has the device returned the stats buffer (asking for stats)?"},
	{"driver", "driver:balloon_send_stats", "d:balloon_send_stats{MEMFREE=n, [tag]=n, ...}",
	 "fill and send the stats buffer (entries sorted by tag)"},
	{"driver", "driver:balloon_report", "d:balloon_report{{gpa, len}, ...}",
	 "free page reporting of ranges (PAGE_REPORTING)"},
	{"driver", "driver:console_init", "d:console_init{features={...}}",
	 "virtio-console init (MULTIPORT: control handshake); returns d"},
	{"driver", "driver:console_write", "d:console_write(port, data)",
	 "transmit on a port; returns the bytes posted"},
	{"driver", "driver:console_read", "d:console_read(port [, max])",
	 "bytes the device delivered to port (\"\" if none)"},
	{"driver", "driver:console_open", "d:console_open(port, bool)", "send PORT_OPEN 1/0 (MULTIPORT)"},
	{"driver", "driver:console_port_name", "d:console_port_name(port)",
	 "name from PORT_NAME, or nil"},
	{"driver", "driver:console_host_open", "d:console_host_open(port)",
	 "host side open, as PORT_OPEN said"},
	{"driver", "driver:console_emerg_write", "d:console_emerg_write(ch)",
	 "write a character (\"x\" or 0..255) to emerg_wr"},
	{"driver", "driver:console_send_ctrl", "d:console_send_ctrl(bytes)",
	 "raw control message (1..64 bytes), for malformed-message tests"},
	{"driver", "driver:console_ctrl_log", "d:console_ctrl_log()",
	 "control messages received: {id=, event=\"PORT_NAME\", value=, name=, ...}"},
	{"driver", "driver.features", "d:init{features={\"FLUSH\", \"EVENT_IDX\"}}",
	 "device bits by plain name scoped by device type (vqsim.dev_features.blk),"
	 "\n      or \"BLK_F_FLUSH\" / \"VIRTIO_BLK_F_FLUSH\", or a bit number"},

	{"ring", "queue:add", "q:add({{gpa, len, \"r\"}, {gpa, len, \"w\"}} [, token])",
	 "add a chain; returns head, token"},
	{"ring", "queue:add_indirect", "q:add_indirect(bufs, table_gpa [, token])",
	 "add a chain through an indirect table"},
	{"ring", "queue:kick", "q:kick()", "publish and notify if wanted; true if notified"},
	{"ring", "queue:reap", "q:reap()", "next used element: token, len (nil if none)"},
	{"ring", "queue:wait", "q:wait()", "run until a used element is there"},
	{"ring", "queue:interrupts", "q:interrupts(bool)", "ask for used-buffer interrupts or not"},
	{"ring", "queue:desc", "q:desc(i [, {addr=, len=, flags=, next=}])",
	 "read or write descriptor i (flags: number or \"NEXT|WRITE\")"},
	{"ring", "queue:avail", "q:avail(slot [, head])", "read or write an avail ring entry"},
	{"ring", "queue:avail_idx", "q:avail_idx([n])", "read or write avail idx"},
	{"ring", "queue:avail_flags", "q:avail_flags([f])", "read or write avail flags"},
	{"ring", "queue:used_event", "q:used_event([v])", "read or write used_event"},
	{"ring", "queue:used", "q:used(slot)", "used ring entry: id, len"},
	{"ring", "queue:used_idx", "q:used_idx([n])", "read (or write) used idx"},
	{"ring", "queue:used_flags", "q:used_flags([f])", "read (or write) used flags"},
	{"ring", "queue:avail_event", "q:avail_event([v])", "read (or write) avail_event"},
	{"ring", "queue:post", "q:post(head [, n])", "put head in the next avail slot, idx += n"},
	{"ring", "queue:notify", "q:notify()", "write QueueNotify"},
	{"ring", "queue:dump", "q:dump([all])", "the pretty table as a string"},
	{"ring", "q.num", "q.num .index .name .kind .addrs .num_free .device", "queue facts"},

	{"devring", "machine:device_ring",
	 "m:device_ring{num=, desc=, driver=, device=, features={\"EVENT_IDX\", \"INDIRECT_DESC\"}, layout=\"split\"}",
	 "the device side of a ring at those addresses, driven by the script"},
	{"devring", "devring:pop", "r:pop()",
	 "next chain {head=, ndesc=, read_bytes=, write_bytes=, segs={{gpa=, len=, write=}}};\n"
	 "      nil when none; nil, ERRNAME, detail when the ring breaks"},
	{"devring", "devring:pop_batch", "r:pop_batch(max)",
	 "up to max chains through the batched path: list [, ERRNAME, detail]"},
	{"devring", "devring:push", "r:push(chain | head, written)",
	 "used element for a chain in flight: true, or nil, ERRNAME, detail"},
	{"devring", "devring:publish", "r:publish()", "make used elements visible: true if an interrupt is due"},
	{"devring", "devring:set_notify", "r:set_notify(bool)", "ask for notifications or not"},
	{"devring", "devring:pending", "r:pending()", "chains available to pop"},
	{"devring", "devring:reset", "r:reset()", "stop the ring (then r:init() sets it up again)"},
	{"devring", "devring:init", "r:init()", "set the ring up again from its geometry"},
	{"devring", "devring:clone", "r:clone()",
	 "a second ring in the same state, nothing in flight (compare pop with pop_batch)"},
	{"devring", "r.error", "r.error .error_detail .num .layout .last_avail .used_idx .in_flight",
	 "ring facts"},

	{"trace", "trace.on", "m:trace(true)", "trace every event to stdout"},
	{"trace", "trace.file", "m:trace(\"file\", {kinds={\"notify\",\"irq\"}})",
	 "only some kinds, to a file"},
	{"trace", "trace.capture", "m:trace{capture=true, kinds={...}}; m:trace_log()",
	 "collect lines in memory (capture defaults to true; false stops tracing)"},
	{"trace", "trace.off", "m:trace(false)", "stop tracing"},
	{"trace", "trace.json", "m:trace{file=\"t.jsonl\", format=\"json\"}",
	 "JSON Lines to a file (without file=: captured, lines from m:trace_log())"},
	{"trace", "trace.filter", "m:trace{kinds={\"chain\"}, devices={\"blk0\"}, queues={0}}",
	 "only these kinds, devices, queues (with queues=, events about no queue are dropped)"},
	{"trace", "trace.cli", "vqsim --trace F --trace-format json --trace-filter 'kind=chain dev=blk0'",
	 "the same for every machine, from the command line"},
	{"trace", "vqsim.record", "vqsim.record(\"rec.lua\") / vqsim.record(false)",
	 "record every binding call as a Lua script; vqsim rec.lua replays it"},
	{"trace", "record.cli", "vqsim --record rec.lua [script.lua]",
	 "record the REPL or a script; the replay gives the same trace"},

	{"debug", "machine:breakpoint", "m:breakpoint{kind=, dev=, queue=, field=value...}",
	 "stop at a matching event (head=3, to=0, err=\"RING_LOOP\"...); returns an id;\n"
	 "      also m[\"break\"](m, {...}) (break is a Lua keyword)"},
	{"debug", "machine:break", "m[\"break\"](m, {kind=, dev=, queue=, field=value...})",
	 "m:breakpoint under its other name (break is a Lua keyword)"},
	{"debug", "machine:watch", "m:watch{gpa=, len=, on=\"write\"}",
	 "stop when a write (chain writable segment, used ring, m.mem) touches the range"},
	{"debug", "machine:delete", "m:delete(id)", "remove a breakpoint or watchpoint"},
	{"debug", "machine:breakpoints", "m:breakpoints()", "list them with their hit counts"},
	{"debug", "machine:continue", "m:continue([max])",
	 "run on after a hit: n[, the next hit {bp=id, kind=, line=, ...}]"},

	{"test", "test", "test \"name\" (function() ... end)", "a test block"},
	{"test", "test.spec", "test(\"name\", {spec=\"2.7.5\"}, function() ... end)",
	 "a test tagged with the spec section it checks"},
	{"test", "ok", "ok(v [, msg])", "v is true"},
	{"test", "eq", "eq(actual, expected [, msg])", "equal (tables compared deeply)"},
	{"test", "neq", "neq(actual, unexpected [, msg])", "not equal"},
	{"test", "raises", "raises(fn [, pattern [, msg]])",
	 "fn raises an error matching pattern (msg if not); returns the message"},
	{"test", "skip", "skip(reason)", "skip the rest of the running test"},
};

#define NTOPICS (sizeof(topics) / sizeof(topics[0]))
#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

static void print_entry(const struct help_entry *e)
{
	printf("  %s\n      %s\n", e->sig, e->line);
}

static bool print_topic(const char *t)
{
	for (size_t i = 0; i < NTOPICS; i++) {
		if (strcmp(topics[i].name, t) != 0)
			continue;
		printf("%s\n\n", topics[i].intro);
		for (size_t j = 0; j < NENTRIES; j++)
			if (strcmp(entries[j].topic, t) == 0)
				print_entry(&entries[j]);
		return true;
	}
	return false;
}

/* Entry by full name ("machine:run") or by method name ("run"). */
static bool print_name(const char *n)
{
	int found = 0;

	for (size_t j = 0; j < NENTRIES; j++)
		if (strcmp(entries[j].name, n) == 0) {
			print_entry(&entries[j]);
			return true;
		}
	for (size_t j = 0; j < NENTRIES; j++) {
		const char *sep = strpbrk(entries[j].name, ":.");
		if (sep && strcmp(sep + 1, n) == 0) {
			print_entry(&entries[j]);
			found++;
		}
	}
	return found > 0;
}

static void overview(void)
{
	printf("vqsim %s - virtio device simulator. Topics: help \"name\"\n\n", PACKAGE_VERSION);
	for (size_t i = 0; i < NTOPICS; i++)
		printf("  %-8s %.*s\n", topics[i].name, (int)strcspn(topics[i].intro, "\n"),
		       topics[i].intro);
	printf("\nhelp(obj) shows an object's methods, help(m.run) or help \"run\" one\n"
	       "function. Start: m = vqsim.machine{}; rng = m:add(\"rng\"); d = m:driver(rng)\n"
	       "The full reference is man 7 vqsim-lua.\n");
}

void lvq_help(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	if (lua_isnoneornil(L, idx)) {
		overview();
		return;
	}
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, idx);
		if (!print_topic(s) && !print_name(s))
			printf("no help for '%s'; help() lists the topics\n", s);
		return;
	}
	if (lua_type(L, idx) == LUA_TFUNCTION) {
		lua_getfield(L, LUA_REGISTRYINDEX, "vqsim.funcnames");
		lua_pushvalue(L, idx);
		if (lua_istable(L, -2) && lua_rawget(L, -2) == LUA_TSTRING && print_name(lua_tostring(L, -1))) {
			lua_pop(L, 2);
			return;
		}
		lua_pop(L, 2);
		/* a global function (the test library): find its name */
		lua_pushglobaltable(L);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			if (lua_rawequal(L, -1, idx) && lua_type(L, -2) == LUA_TSTRING &&
			    print_name(lua_tostring(L, -2))) {
				lua_pop(L, 3);
				return;
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		/* a function of the vqsim table defined in Lua (the prelude) */
		if (lua_istable(L, lua_upvalueindex(1))) {
			lua_pushnil(L);
			while (lua_next(L, lua_upvalueindex(1))) {
				if (lua_rawequal(L, -1, idx) && lua_type(L, -2) == LUA_TSTRING) {
					lua_pushfstring(L, "vqsim.%s", lua_tostring(L, -2));
					if (print_name(lua_tostring(L, -1))) {
						lua_pop(L, 3);
						return;
					}
					lua_pop(L, 1);
				}
				lua_pop(L, 1);
			}
		}
		printf("no help for this function\n");
		return;
	}
	if (lua_getmetatable(L, idx)) {
		lua_getfield(L, -1, "__name");
		if (lua_type(L, -1) == LUA_TSTRING) {
			const char *n = lua_tostring(L, -1);
			const char *t = strncmp(n, "vqsim.", 6) == 0 ? n + 6 : n;
			if (strcmp(t, "queue") == 0)
				t = "ring";
			lua_pushvalue(L, idx);
			printf("%s\n\n", luaL_tolstring(L, -1, NULL));
			lua_pop(L, 2);
			if (print_topic(t)) {
				lua_pop(L, 2);
				return;
			}
		}
		lua_pop(L, 2);
	}
	if (lua_istable(L, idx) && lua_rawequal(L, idx, lua_upvalueindex(1)))
		print_topic("vqsim");
	else
		printf("no help for a %s value; help() lists the topics\n", luaL_typename(L, idx));
}

static int l_help(lua_State *L)
{
	lua_settop(L, 1);
	lvq_help(L, 1);
	return 0;
}

void lvq_open_help(lua_State *L)
{
	lua_pushvalue(L, -1); /* the vqsim table: help(vqsim) */
	lua_pushcclosure(L, l_help, 1);
	lua_setglobal(L, "help");
}
