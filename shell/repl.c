/* repl.c - running Lua code (tracebacks, Ctrl-C) and the interactive loop:
 * readline with persistent history, completion of globals, fields and
 * methods, multi-line chunks, printed values. Modelled on lua.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "backend/unix_sock.h"
#include "lvq.h"

#define PROMPT "vqsim> "
#define PROMPT2 "...> "
#define HISTORY_MAX 2000

volatile sig_atomic_t lvq_interrupted;

static lua_State *running_L;   /* state running code, for the SIGINT hook */
static volatile sig_atomic_t got_sigint_in_readline;

/* ---- running code ---- */

static void lstop(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	luaL_error(L, "interrupted!");
}

void lvq_on_fatal_signal(int sig)
{
	vq_unix_unlink_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

void lvq_fatal_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

	/* a signal the parent set to ignored stays ignored (nohup, &) */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (signal(sigs[i], lvq_on_fatal_signal) == SIG_IGN)
			signal(sigs[i], SIG_IGN);
}

/* SIGINT while Lua runs: stop at the next hook (lua.c's laction), or at the
 * next check in a long C call (m:run, m:poll); a second Ctrl-C before that
 * kills the process (stuck in C), removing its socket files first. */
static void on_sigint_running(int sig)
{
	int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;

	signal(sig, lvq_on_fatal_signal);
	lvq_interrupted = 1;
	if (running_L)
		lua_sethook(running_L, lstop, flag, 1);
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int lvq_docall(lua_State *L, int nargs, int nres)
{
	int base = lua_gettop(L) - nargs;
	int status;

	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	running_L = L;
	lvq_interrupted = 0;
	signal(SIGINT, on_sigint_running);
	status = lua_pcall(L, nargs, nres, base);
	signal(SIGINT, lvq_on_fatal_signal);
	running_L = NULL;
	lua_sethook(L, NULL, 0, 0);
	lvq_interrupted = 0;
	lua_remove(L, base);
	return status;
}

void lvq_report(lua_State *L, const char *progname)
{
	const char *msg = lua_tostring(L, -1);

	fflush(stdout);
	if (progname)
		fprintf(stderr, "%s: ", progname);
	fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
	fflush(stderr);
	lua_pop(L, 1);
}

/* ---- history ---- */

static char history_path[4096];

/* mkdir -p for the directory part of path (errors surface later). */
static void make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
}

static void history_open(void)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (getenv("VQSIM_HISTFILE")) {
		snprintf(history_path, sizeof(history_path), "%s", getenv("VQSIM_HISTFILE"));
	} else if (state && *state) {
		snprintf(history_path, sizeof(history_path), "%s/vqsim/history", state);
		make_parents(history_path);
	} else if (home && *home) {
		snprintf(history_path, sizeof(history_path), "%s/.vqsim_history", home);
	} else {
		history_path[0] = '\0';
		return;
	}
	stifle_history(HISTORY_MAX);
	/* a multi-line chunk is one entry: each entry is written after a
	 * "#<time>" line, and lines between two of those read back as one
	 * entry (readline >= 8.0); an old file without them reads as before */
	history_comment_char = '#'; /* timestamps are "#<time>" (as in bash) */
	history_write_timestamps = 1;
	history_multiline_entries = 1;
	read_history(history_path);
}

static void history_add(const char *line)
{
	HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
	int fd;

	if (!*line || (last && strcmp(last->line, line) == 0))
		return;
	add_history(line);
	if (!history_path[0])
		return;
	/* append at once, so a crash or a second session keeps it; the file
	 * may hold secrets typed at the prompt: only its owner reads it */
	if ((fd = open(history_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	append_history(1, history_path);
}

static void history_close(void)
{
	/* keep the last HISTORY_MAX entries: read the file back (with what
	 * other sessions appended; stifled, so only the newest stay) and
	 * rewrite it. history_truncate_file() counts lines, and could cut a
	 * multi-line entry in two. */
	if (history_path[0]) {
		clear_history();
		if (read_history(history_path) == 0)
			write_history(history_path);
	}
}

/* ---- completion ---- */

static lua_State *complete_L;
static const char *const keywords[] = {
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
	"in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
	NULL,
};

/* Add to list (a table at -1) the identifier keys of table t, plus those
 * reached through __index tables (depth-limited). */
static void add_keys(lua_State *L, int t, int list, bool methods_only, int depth)
{
	t = lua_absindex(L, t);
	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (lua_type(L, -2) == LUA_TSTRING && (!methods_only || lua_isfunction(L, -1))) {
			lua_pushvalue(L, -2);
			lua_pushboolean(L, 1);
			lua_rawset(L, list);
		}
		lua_pop(L, 1);
	}
	if (depth > 0 && lua_getmetatable(L, t)) {
		if (lua_getfield(L, -1, "__index") == LUA_TTABLE)
			add_keys(L, -1, list, methods_only, depth - 1);
		lua_pop(L, 2);
	}
}

/* Push a table of candidate names after the value at -1 (which it pops). */
static void members(lua_State *L, bool methods_only)
{
	int v = lua_gettop(L), list;

	lua_newtable(L);
	list = lua_gettop(L);
	if (lua_istable(L, v))
		add_keys(L, v, list, methods_only, 3);
	if (lua_getmetatable(L, v)) {
		if (lua_getfield(L, -1, "__methods") == LUA_TTABLE)
			add_keys(L, -1, list, false, 0);
		lua_pop(L, 1);
		if (!methods_only && lua_getfield(L, -1, "__fields") == LUA_TTABLE) {
			for (lua_Integer i = 1; lua_geti(L, -1, i) == LUA_TSTRING; i++) {
				lua_pushboolean(L, 1);
				lua_rawset(L, list);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		if (!lua_istable(L, v) && lua_getmetatable(L, v)) {
			if (lua_getfield(L, -1, "__index") == LUA_TTABLE)
				add_keys(L, -1, list, methods_only, 1);
			lua_pop(L, 2);
		}
	}
	lua_remove(L, v);
}

/* Protected: walk the path in upvalue-less argument 1 ("a.b.c") from the
 * globals and push the candidates table for what follows it. */
static int p_candidates(lua_State *L)
{
	const char *path = lua_tostring(L, 1);
	bool methods_only = lua_toboolean(L, 2);
	const char *p = path;

	lua_pushglobaltable(L);
	if (!*path) {
		lua_newtable(L);
		add_keys(L, -2, lua_gettop(L), false, 1);
		for (int i = 0; keywords[i]; i++) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, keywords[i]);
		}
		return 1;
	}
	while (*p) {
		size_t n = strcspn(p, ".:");
		lua_pushlstring(L, p, n);
		if (lua_type(L, -2) != LUA_TTABLE && lua_type(L, -2) != LUA_TUSERDATA &&
		    lua_type(L, -2) != LUA_TSTRING)
			return 0;
		lua_gettable(L, -2);
		lua_remove(L, -2);
		p += n;
		if (*p)
			p++;
	}
	members(L, methods_only);
	return 1;
}

static char **matches;
static size_t nmatches, match_next;

static char *generator(const char *text, int state)
{
	(void)text;
	if (!state)
		match_next = 0;
	return match_next < nmatches ? strdup(matches[match_next++]) : NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **complete(const char *text, int start, int end)
{
	lua_State *L = complete_L;
	const char *sep = NULL;
	char *path;
	size_t plen;
	int top = lua_gettop(L);

	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;
	rl_completion_append_character = '\0';
	for (const char *s = text; *s; s++)
		if (*s == '.' || *s == ':')
			sep = s;
	plen = sep ? (size_t)(sep - text) : 0;
	path = strndup(text, plen);
	for (size_t i = 0; i < nmatches; i++)
		free(matches[i]);
	free(matches);
	matches = NULL;
	nmatches = 0;
	lua_pushcfunction(L, p_candidates);
	lua_pushstring(L, path ? path : "");
	lua_pushboolean(L, sep && *sep == ':');
	free(path);
	if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
		const char *word = sep ? sep + 1 : text;
		size_t cap = 0;

		lua_pushnil(L);
		while (lua_next(L, -2)) {
			const char *k = lua_tostring(L, -2);
			lua_pop(L, 1);
			if (!k || strncmp(k, word, strlen(word)) != 0 ||
			    (k[0] == '_' && k[1] == '_' && word[0] != '_'))
				continue;
			if (nmatches == cap) {
				char **nm = realloc(matches, (cap = cap ? 2 * cap : 16) * sizeof(*nm));
				if (!nm)
					break;
				matches = nm;
			}
			matches[nmatches] = malloc(plen + (sep ? 1 : 0) + strlen(k) + 1);
			if (!matches[nmatches])
				break;
			memcpy(matches[nmatches], text, plen + (sep ? 1 : 0));
			strcpy(matches[nmatches] + plen + (sep ? 1 : 0), k);
			nmatches++;
		}
		qsort(matches, nmatches, sizeof(*matches), cmp_str);
	}
	lua_settop(L, top);
	return nmatches ? rl_completion_matches(text, generator) : NULL;
}

/* ---- reading a line: readline's callback interface, so that Ctrl-C at
 * the prompt can abandon the line (readline() itself would carry on) ---- */

static char *cb_line;
static bool cb_done;

static void on_sigint_prompt(int sig)
{
	(void)sig;
	got_sigint_in_readline = 1;
}

static void line_handler(char *line)
{
	cb_line = line;
	cb_done = true;
	rl_callback_handler_remove(); /* or readline prompts again at once */
}

static char *read_line(const char *prompt)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint_prompt; /* no SA_RESTART: select() must wake */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	got_sigint_in_readline = 0;
	cb_done = false;
	cb_line = NULL;
	rl_callback_handler_install(prompt, line_handler);
	while (!cb_done) {
		fd_set fds;
		int fd = fileno(rl_instream ? rl_instream : stdin);
		int r;

		FD_ZERO(&fds);
		FD_SET(fd, &fds);
		r = select(fd + 1, &fds, NULL, NULL, NULL);
		if (got_sigint_in_readline) {
			rl_free_line_state();
			rl_callback_sigcleanup();
			rl_cleanup_after_signal();
			rl_callback_handler_remove();
			fputs("^C\n", stdout);
			fflush(stdout);
			sigaction(SIGINT, &old, NULL);
			return strdup("\x03"); /* marker: line abandoned */
		}
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0)
			rl_callback_read_char();
	}
	if (!cb_done)
		rl_callback_handler_remove();
	sigaction(SIGINT, &old, NULL);
	return cb_line;
}

/* ---- the loop ---- */

/* Is the load error at -1 an incomplete chunk? (lua.c's incomplete()) */
static bool incomplete(lua_State *L, int status)
{
	size_t lmsg;
	const char *msg;

	if (status != LUA_ERRSYNTAX)
		return false;
	msg = lua_tolstring(L, -1, &lmsg);
	return lmsg >= 5 && strcmp(msg + lmsg - 5, "<eof>") == 0;
}

/* Try "return <line>" so plain expressions print their value. */
static int try_expression(lua_State *L, const char *line)
{
	const char *retline = lua_pushfstring(L, "return %s;", line);
	int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");

	lua_remove(L, -2);
	if (status != LUA_OK)
		lua_pop(L, 1);
	return status;
}

/* Read a full chunk and compile it: pushes the function. Returns LUA_OK,
 * a load error (message pushed), or -1 at EOF. *abandoned for Ctrl-C. */
static int read_chunk(lua_State *L, bool *abandoned)
{
	char *line = read_line(PROMPT);
	luaL_Buffer b;
	bool eq;
	int status;

	*abandoned = false;
	if (!line)
		return -1;
	if (strcmp(line, "\x03") == 0) {
		free(line);
		*abandoned = true;
		return LUA_OK;
	}
	/* lua 5.1 style "=expr": run without the '=', remember as typed */
	eq = line[0] == '=';
	if (try_expression(L, line + eq) == LUA_OK) {
		history_add(line);
		free(line);
		return LUA_OK;
	}
	luaL_buffinit(L, &b);
	if (eq) /* an expression continued on the next lines */
		luaL_addstring(&b, "return ");
	luaL_addstring(&b, line + eq);
	free(line);
	luaL_pushresult(&b); /* the chunk so far, at -1 */
	for (;;) {
		size_t len;
		const char *chunk = lua_tolstring(L, -1, &len);

		status = luaL_loadbuffer(L, chunk, len, "=stdin");
		if (!incomplete(L, status))
			break;
		lua_pop(L, 1);
		line = read_line(PROMPT2);
		if (!line || strcmp(line, "\x03") == 0) {
			free(line);
			lua_pop(L, 1);
			*abandoned = true;
			return LUA_OK;
		}
		lua_pushliteral(L, "\n");
		lua_pushstring(L, line);
		free(line);
		lua_concat(L, 3);
	}
	history_add(lua_pushfstring(L, "%s%s", eq ? "=" : "",
				    lua_tostring(L, -2) + (eq ? strlen("return ") : 0)));
	lua_pop(L, 1);
	lua_remove(L, -2);
	return status;
}

/* Print the values on the stack above base with vqsim.pretty (or tostring). */
static void print_results(lua_State *L, int base)
{
	int n = lua_gettop(L) - base;

	for (int i = 1; i <= n; i++) {
		int top = lua_gettop(L);
		const char *s = NULL;

		if (lua_getglobal(L, "vqsim") == LUA_TTABLE &&
		    lua_getfield(L, -1, "pretty") == LUA_TFUNCTION) {
			lua_pushvalue(L, base + i);
			lua_pushboolean(L, 1); /* top level */
			if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
				s = lua_tostring(L, -1);
		}
		if (!s)
			s = luaL_tolstring(L, base + i, NULL);
		fputs(s ? s : "?", stdout);
		fputs(i < n ? "\t" : "\n", stdout);
		lua_settop(L, top);
	}
	fflush(stdout);
}

int lvq_repl(lua_State *L)
{
	bool abandoned;
	int status;

	complete_L = L;
	rl_readline_name = "vqsim";
	rl_attempted_completion_function = complete;
	rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
	rl_catch_signals = 0;
	lvq_announce_hits = true;
	history_open();
	if (isatty(STDIN_FILENO))
		printf("vqsim %s (%s)  help() for help, Ctrl-D to quit\n",
#ifdef PACKAGE_VERSION
		       PACKAGE_VERSION,
#else
		       "0.0.0",
#endif
		       LUA_RELEASE);
	while ((status = read_chunk(L, &abandoned)) != -1) {
		int base = lua_gettop(L);
		if (abandoned)
			continue;
		if (status == LUA_OK)
			status = lvq_docall(L, 0, LUA_MULTRET);
		if (status == LUA_OK) {
			print_results(L, base - 1);
		} else {
			/* message only at the prompt: drop the traceback */
			const char *msg = lua_tostring(L, -1);
			const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
			if (tb && !getenv("VQSIM_TRACEBACK")) {
				lua_pushlstring(L, msg, (size_t)(tb - msg));
				lua_remove(L, -2);
			}
			lvq_report(L, NULL);
		}
		lua_settop(L, base - 1 < 0 ? 0 : base - 1);
	}
	fputc('\n', stdout);
	history_close();
	return 0;
}
