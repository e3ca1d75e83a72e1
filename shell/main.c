/* main.c - vqsim: options, then a script, -e chunks, the test runner or
 * the REPL. Exit status: 0 success, 1 a script or test failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvq.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define EXIT_USAGE 2
/* main's two argument lists, freed on every way out */
#define FREE_ARGS() (free(chunks), free(filters))


static const char *progname = "vqsim";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] [script.lua [args...]]\n"
		"       %s --test [--coverage] [--filter PATTERN]... PATH...\n"
		"       %s --from-fuzz HARNESS FILE\n"
		"       %s --vhost-user PATH --device TYPE[,options]\n"
		"Options:\n"
		"  -e CODE        run CODE (may be repeated; runs before the script)\n"
		"  -i             enter the REPL after running the script or -e code\n"
		"  --transport mmio|pci  vqsim.defaults.transport: where m:add puts devices\n"
		"  --test         run test files and directories, print TAP\n"
		"  --coverage     with --test: list the spec sections that passing tests\n"
		"                 check, how many passing tests check each, and the\n"
		"                 normative sections of implemented areas none checks\n"
		"  --filter PATTERN\n"
		"                 with --test: run only tests whose name contains\n"
		"                 PATTERN, tagged with spec section PATTERN (or one\n"
		"                 below it) or with tag PATTERN; may be repeated\n"
		"  --ring split|packed\n"
		"                 ring layout the drivers negotiate by default\n"
		"                 (vqsim.defaults.ring), default split\n"
		"  --seed N       default seed of new machines (vqsim.seed), default 1\n"
		"  --trace FILE   trace every machine's events to FILE (- for stdout)\n"
		"  --trace-format text|json\n"
		"                 one readable line or one JSON object per event\n"
		"  --trace-filter 'kind=K,.. dev=D,.. queue=Q,..'\n"
		"                 trace only matching events (see vqsim(1))\n"
		"  --record FILE  record the session as a Lua script that replays it\n"
		"  --from-fuzz HARNESS FILE\n"
		"                 write a fuzzer input of HARNESS (rng, blk, net, balloon,\n"
		"                 console) as a Lua script that replays it, on stdout\n"
		"  --device vhost-user:PATH,type=KIND[,options]\n"
		"                 the KIND devices scripts and suites add (m:add) are\n"
		"                 the vhost-user back-end listening on PATH; tests\n"
		"                 tagged \"model\" are left out (see vqsim(1))\n"
		"  --expect FILE  with --test: known differences of that device; a\n"
		"                 listed failure is reported as TODO, not as a failure\n"
		"  --vhost-user PATH --device TYPE[,options]\n"
		"                 serve a device (blk, net, rng, ...) to a vhost-user\n"
		"                 front-end such as QEMU on the UNIX socket PATH\n"
		"  -h, --help     print this help and exit\n"
		"  -v, --version  print the version and exit\n"
		"With no script and no -e, vqsim starts the REPL (reads stdin when it\n"
		"is not a terminal). See vqsim(1) and vqsim-lua(7).\n",
		progname, progname, progname, progname);
}

#if defined(VQSIM_PKGDATADIR) || defined(VQSIM_SRCDIR)
static bool is_file(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
#endif

const char *lvq_libdir(void)
{
	const char *env = getenv("VQSIM_LIBDIR");

	if (env && *env)
		return env;
#ifdef VQSIM_PKGDATADIR
	if (is_file(VQSIM_PKGDATADIR "/lib", "prelude.lua"))
		return VQSIM_PKGDATADIR "/lib";
#endif
#ifdef VQSIM_SRCDIR
	if (is_file(VQSIM_SRCDIR "/scripts/lib", "prelude.lua"))
		return VQSIM_SRCDIR "/scripts/lib";
#endif
	return NULL;
}

lua_State *lvq_newstate(uint64_t seed)
{
	lua_State *L = luaL_newstate();
	const char *dir = lvq_libdir();

	if (!L) {
		fprintf(stderr, "%s: cannot create a Lua state: out of memory\n", progname);
		return NULL;
	}
	luaL_openlibs(L);
	luaopen_vqsim(L);
	lvq_setint(L, "seed", (lua_Integer)seed);
	lua_pop(L, 1);
	if (!dir) {
		fprintf(stderr, "%s: cannot find the vqsim library (prelude.lua); set VQSIM_LIBDIR\n",
			progname);
		lua_close(L);
		return NULL;
	}
	/* package.path: the library directory first */
	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/?.lua;", dir);
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
	lua_getglobal(L, "vqsim");
	lua_pushstring(L, dir);
	lua_setfield(L, -2, "libdir");
	lua_pop(L, 1);
	lua_pushfstring(L, "%s/prelude.lua", dir);
	if (luaL_loadfile(L, lua_tostring(L, -1)) != LUA_OK || lvq_docall(L, 0, 0) != LUA_OK) {
		lvq_report(L, progname);
		lua_close(L);
		return NULL;
	}
	lua_pop(L, 1);
	return L;
}

/* Set the global arg table like lua.c: script at 0, its arguments 1..n. */
static void set_args(lua_State *L, char **argv, int argc, int script)
{
	lua_createtable(L, argc - script, script + 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
}

static int run_chunk(lua_State *L, int status)
{
	if (status == LUA_OK)
		status = lvq_docall(L, 0, 0);
	if (status != LUA_OK) {
		lvq_report(L, progname);
		return 1;
	}
	return 0;
}

static int run_script(lua_State *L, const char *file, int nargs_start, char **argv, int argc)
{
	int status = luaL_loadfile(L, strcmp(file, "-") == 0 ? NULL : file);

	if (status != LUA_OK)
		return run_chunk(L, status);
	for (int i = nargs_start; i < argc; i++)
		lua_pushstring(L, argv[i]);
	status = lvq_docall(L, argc - nargs_start, 0);
	if (status != LUA_OK) {
		lvq_report(L, progname);
		return 1;
	}
	return 0;
}

/* After a plain script: test.summary() prints the plan and counts of the
 * test blocks that ran (nothing if none); returns how many failed. */
static lua_Integer tests_summary(lua_State *L)
{
	lua_Integer n = 0;

	if (luaL_dostring(L, "local t = package.loaded.test return t and t.summary() or 0") ==
	    LUA_OK)
		n = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return n;
}

/* --record FILE: vqsim.record(FILE) before any user code. 0, or 1 with
 * the error reported. */
static int start_recording(lua_State *L, const char *file)
{
	lua_getglobal(L, "vqsim");
	lua_getfield(L, -1, "record");
	lua_remove(L, -2);
	lua_pushstring(L, file);
	if (lvq_docall(L, 1, 0) != LUA_OK) {
		lvq_report(L, progname);
		return 1;
	}
	return 0;
}

/* --seed: an integer in the option parser's syntax (decimal or 0x). */
static bool parse_u64(const char *s, uint64_t *v)
{
	return vq_parse_uint(s, v) == 0;
}

int main(int argc, char **argv)
{
	enum { OPT_TEST = 256, OPT_COVERAGE, OPT_SEED, OPT_TRACE, OPT_TRACE_FORMAT,
	       OPT_TRACE_FILTER, OPT_RECORD, OPT_FILTER, OPT_FROM_FUZZ, OPT_VHOST_USER,
	       OPT_DEVICE, OPT_RING, OPT_TRANSPORT, OPT_EXPECT };
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},       {"version", no_argument, NULL, 'v'},
		{"test", no_argument, NULL, OPT_TEST},  {"coverage", no_argument, NULL, OPT_COVERAGE},
		{"seed", required_argument, NULL, OPT_SEED},
		{"trace", required_argument, NULL, OPT_TRACE},
		{"trace-format", required_argument, NULL, OPT_TRACE_FORMAT},
		{"trace-filter", required_argument, NULL, OPT_TRACE_FILTER},
		{"record", required_argument, NULL, OPT_RECORD},
		{"filter", required_argument, NULL, OPT_FILTER},
		{"from-fuzz", required_argument, NULL, OPT_FROM_FUZZ},
		{"vhost-user", required_argument, NULL, OPT_VHOST_USER},
		{"device", required_argument, NULL, OPT_DEVICE},
		{"ring", required_argument, NULL, OPT_RING},
		{"expect", required_argument, NULL, OPT_EXPECT},
		{"transport", required_argument, NULL, OPT_TRANSPORT}, {NULL, 0, NULL, 0},
	};
	const char **chunks = calloc((size_t)argc, sizeof(*chunks));
	const char **filters = calloc((size_t)argc, sizeof(*filters));
	const char *record = NULL, *from_fuzz = NULL, *vhost_user = NULL, *device = NULL,
		   *expect = NULL;
	int nchunks = 0, nfilters = 0, c, rc = 0;
	bool interactive = false, test = false, coverage = false;
	uint64_t seed = 1;
	lua_Integer failed;
	lua_State *L;

	if (argv[0] && strrchr(argv[0], '/'))
		progname = strrchr(argv[0], '/') + 1;
	else if (argv[0] && *argv[0])
		progname = argv[0];
	if (!chunks || !filters) {
		FREE_ARGS();
		return 1;
	}
	lvq_fatal_signals(); /* a kill removes the socket files we made */
	opterr = 0;
	/* "+": options stop at the script name; its arguments are its own */
	while ((c = getopt_long(argc, argv, "+e:ihv", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': chunks[nchunks++] = optarg; break;
		case 'i': interactive = true; break;
		case 'h': usage(stdout); FREE_ARGS(); return 0;
		case 'v':
			printf("vqsim %s (%s)\n", PACKAGE_VERSION, LUA_RELEASE);
			FREE_ARGS();
			return 0;
		case OPT_TEST: test = true; break;
		case OPT_COVERAGE: coverage = true; break;
		case OPT_FILTER: filters[nfilters++] = optarg; break;
		case OPT_FROM_FUZZ: from_fuzz = optarg; break;
		case OPT_VHOST_USER: vhost_user = optarg; break;
		case OPT_DEVICE: device = optarg; break;
		case OPT_EXPECT: expect = optarg; break;
		case OPT_RING:
			if (strcmp(optarg, "split") != 0 && strcmp(optarg, "packed") != 0) {
				fprintf(stderr, "%s: --ring: '%s' is not split or packed\n", progname,
					optarg);
				FREE_ARGS();
				return EXIT_USAGE;
			}
			lvq_default_ring = optarg;
			break;
		case OPT_TRANSPORT:
			if (strcmp(optarg, "mmio") && strcmp(optarg, "pci")) {
				fprintf(stderr, "%s: --transport: '%s' is not mmio or pci\n",
					progname, optarg);
				FREE_ARGS();
				return EXIT_USAGE;
			}
			lvq_default_transport = strcmp(optarg, "pci") ? "mmio" : "pci";
			break;
		case OPT_RECORD: {
			/* checked here, like --trace: a usage error, not a Lua one */
			FILE *f = fopen(optarg, "w");

			if (!f) {
				fprintf(stderr, "%s: --record: cannot open '%s': %s\n", progname,
					optarg, strerror(errno));
				FREE_ARGS();
				return EXIT_USAGE;
			}
			fclose(f);
			record = optarg;
			break;
		}
		case OPT_SEED:
			if (!parse_u64(optarg, &seed)) {
				fprintf(stderr, "%s: --seed: '%s' is not a non-negative integer\n",
					progname, optarg);
				FREE_ARGS();
				return EXIT_USAGE;
			}
			break;
		case OPT_TRACE:
			if (lvq_trace_default && lvq_trace_default != stdout)
				fclose(lvq_trace_default);
			lvq_trace_default = strcmp(optarg, "-") == 0 ? stdout : fopen(optarg, "w");
			if (!lvq_trace_default) {
				fprintf(stderr, "%s: --trace: cannot open '%s': %s\n", progname, optarg,
					strerror(errno));
				FREE_ARGS();
				return EXIT_USAGE;
			}
			break;
		case OPT_TRACE_FORMAT:
			lvq_trace_format = vq_trace_format_parse(optarg);
			if (lvq_trace_format < 0) {
				fprintf(stderr, "%s: --trace-format: '%s' is not text or json\n",
					progname, optarg);
				FREE_ARGS();
				return EXIT_USAGE;
			}
			break;
		case OPT_TRACE_FILTER: {
			char err[128];

			if (vq_trace_filter_parse(&lvq_trace_filter, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: --trace-filter: %s\n", progname, err);
				FREE_ARGS();
				return EXIT_USAGE;
			}
			break;
		}
		default:
			if (optopt == 'e')
				fprintf(stderr, "%s: option -e needs an argument (Lua code)\n", progname);
			else if (optopt && optopt < 256)
				fprintf(stderr, "%s: unknown option '-%c'\n", progname, optopt);
			else if (optopt)
				fprintf(stderr, "%s: option '%s' needs an argument\n", progname,
					argv[optind - 1]);
			else
				fprintf(stderr, "%s: unknown option '%s'\n", progname, argv[optind - 1]);
			fprintf(stderr, "Try '%s --help' for more information.\n", progname);
			FREE_ARGS();
			return EXIT_USAGE;
		}
	}
	if (device && !vhost_user && strncmp(device, "vhost-user:", 11) == 0) {
		/* the devices of scripts and suites are an outside back-end */
		char err[256];

		if (lvq_outside_check(device, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: --device: %s\n", progname, err);
			FREE_ARGS();
			return EXIT_USAGE;
		}
		lvq_default_outside = device;
		device = NULL;
	}
	if (vhost_user || device) {
		if (!vhost_user || !device || optind != argc || test || nchunks || interactive ||
		    record || from_fuzz) {
			fprintf(stderr, "%s: --vhost-user PATH and --device TYPE[,options] go "
				"together, with nothing else but --seed and --trace*\n", progname);
			FREE_ARGS();
			return EXIT_USAGE;
		}
		if (lvq_trace_default)
			setvbuf(lvq_trace_default, NULL, _IOLBF, 0);
		rc = lvq_serve_vhost(progname, vhost_user, device, seed);
		FREE_ARGS();
		goto out;
	}
	if (from_fuzz) {
		if (optind + 1 != argc || test || nchunks || interactive || record) {
			fprintf(stderr, "%s: --from-fuzz needs HARNESS and one input FILE, nothing "
				"else\n", progname);
			FREE_ARGS();
			return EXIT_USAGE;
		}
		rc = lvq_from_fuzz(progname, from_fuzz, argv[optind]);
		FREE_ARGS();
		return rc;
	}
	if ((coverage || nfilters || expect) && !test) {
		fprintf(stderr, "%s: %s goes with --test\n", progname,
			coverage ? "--coverage" : nfilters ? "--filter" : "--expect");
		FREE_ARGS();
		return EXIT_USAGE;
	}
	if (test) {
		if (optind >= argc || nchunks || interactive || record) {
			fprintf(stderr,
				"%s: --test needs one or more PATHs (and no -e, -i or --record)\n",
				progname);
			FREE_ARGS();
			return EXIT_USAGE;
		}
		rc = lvq_run_tests(argv + optind, argc - optind, seed, coverage, filters, nfilters,
				   expect);
		FREE_ARGS();
		goto out;
	}
	if (lvq_trace_default)
		setvbuf(lvq_trace_default, NULL, _IOLBF, 0);
	L = lvq_newstate(seed);
	if (!L) {
		FREE_ARGS();
		rc = 1;
		goto out;
	}
	set_args(L, argv, argc, optind < argc ? optind : argc);
	if (record && start_recording(L, record) != 0) {
		FREE_ARGS();
		lua_close(L);
		rc = 1;
		goto out;
	}
	for (int i = 0; i < nchunks && rc == 0; i++)
		rc = run_chunk(L, luaL_loadbuffer(L, chunks[i], strlen(chunks[i]), "=(command line)"));
	if (rc == 0 && optind < argc)
		rc = run_script(L, argv[optind], optind + 1, argv, argc);
	if ((optind >= argc && nchunks == 0) || interactive) {
		if (optind >= argc && nchunks == 0 && !isatty(STDIN_FILENO) && !interactive)
			rc = run_script(L, "-", argc, argv, argc); /* like lua: stdin script */
		else
			lvq_repl(L);
	}
	failed = tests_summary(L);
	if (failed) {
		fprintf(stderr, "%s: %lld test(s) failed\n", progname, (long long)failed);
		rc = 1;
	}
	FREE_ARGS();
	lua_close(L);
out:
	if (lvq_trace_default && lvq_trace_default != stdout)
		fclose(lvq_trace_default);
	return rc;
}
