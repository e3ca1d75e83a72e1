/* runner.c - vqsim --test: runs each test file in a fresh Lua state and
 * prints one TAP stream (version 13) for all of them; the test blocks
 * themselves are scripts/lib/test.lua.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lvq.h"

struct files {
	char **v;
	size_t n, cap;
};

static int add_file(struct files *f, const char *path)
{
	if (f->n == f->cap) {
		char **nv = realloc(f->v, (f->cap = f->cap ? 2 * f->cap : 64) * sizeof(*nv));
		if (!nv)
			return -1;
		f->v = nv;
	}
	if (!(f->v[f->n] = strdup(path)))
		return -1;
	f->n++;
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect *.lua under path (recursively, sorted) or path itself. */
static int collect(struct files *f, const char *path, bool top)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	size_t first = f->n;

	if (stat(path, &st) < 0) {
		if (top)
			fprintf(stderr, "vqsim: --test: cannot open '%s'\n", path);
		return top ? -1 : 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		size_t n = strlen(path);
		if (top || (n > 4 && strcmp(path + n - 4, ".lua") == 0))
			return add_file(f, path);
		return 0;
	}
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d))) {
		char sub[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", path,
			 path[strlen(path) - 1] == '/' ? "" : "/", e->d_name);
		if (collect(f, sub, false) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	qsort(f->v + first, f->n - first, sizeof(*f->v), cmp_path);
	return 0;
}

/* Call test.<fn>(args...) in L; the test library is required by the prelude. */
static int call_test_lib(lua_State *L, const char *fn, int nargs, int nres)
{
	int base = lua_gettop(L) - nargs;

	lua_getglobal(L, "require");
	lua_pushliteral(L, "test");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK)
		return -1;
	lua_getfield(L, -1, fn);
	lua_remove(L, -2);
	lua_insert(L, base + 1);
	return lvq_docall(L, nargs, nres);
}

/* Monotonic seconds, for the test library's per-test times. */
static int l_clock(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/* Push begin()'s options: {filters = {...}, clock = l_clock}. */
static void push_begin_opts(lua_State *L, const char *const *filters, int nfilters,
			    const char *expect)
{
	lua_createtable(L, 0, 2);
	lua_createtable(L, nfilters, 0);
	for (int i = 0; i < nfilters; i++) {
		lua_pushstring(L, filters[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "filters");
	lua_pushcfunction(L, l_clock);
	lua_setfield(L, -2, "clock");
	if (expect) {
		lua_pushstring(L, expect);
		lua_setfield(L, -2, "expect");
	}
}

int lvq_run_tests(char **paths, int npaths, uint64_t seed, bool coverage,
		  const char *const *filters, int nfilters, const char *expect)
{
	struct files f = {0};
	lua_Integer number = 0, failed = 0, passed = 0, skipped = 0, filtered = 0, known = 0;
	lua_State *cov;
	int rc = 0;

	for (int i = 0; i < npaths; i++)
		if (collect(&f, paths[i], true) < 0)
			rc = 2;
	if (rc)
		goto done;
	/* one small state keeps the coverage table across files */
	cov = luaL_newstate();
	if (!cov) {
		rc = 1;
		goto done;
	}
	lua_newtable(cov);
	printf("TAP version 13\n");
	fflush(stdout);
	for (size_t i = 0; i < f.n; i++) {
		lua_State *L = lvq_newstate(seed);
		int status;

		printf("# %s\n", f.v[i]);
		fflush(stdout);
		if (!L) {
			printf("not ok %lld - %s: cannot start a Lua state\n", (long long)++number,
			       f.v[i]);
			failed++;
			continue;
		}
		lua_pushinteger(L, number);
		lua_pushstring(L, f.v[i]);
		push_begin_opts(L, filters, nfilters, expect);
		if (call_test_lib(L, "begin", 3, 0) != LUA_OK) {
			lvq_report(L, "vqsim");
			lua_close(L);
			rc = 1;
			break;
		}
		status = luaL_loadfile(L, f.v[i]);
		if (status == LUA_OK)
			status = lvq_docall(L, 0, 0);
		if (status != LUA_OK) {
			lua_pushstring(L, f.v[i]);
			lua_insert(L, -2);
			call_test_lib(L, "file_error", 2, 0);
		}
		/* finish() returns number, passed, failed, skipped, {section = count},
		 * filtered out */
		if (call_test_lib(L, "finish", 0, 7) != LUA_OK) {
			lvq_report(L, "vqsim");
			lua_close(L);
			rc = 1;
			break;
		}
		number = lua_tointeger(L, -7);
		passed += lua_tointeger(L, -6);
		failed += lua_tointeger(L, -5);
		skipped += lua_tointeger(L, -4);
		filtered += lua_tointeger(L, -2);
		known += lua_tointeger(L, -1);
		lua_pop(L, 2);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			const char *sec = lua_tostring(L, -2);
			lua_getfield(cov, -1, sec);
			lua_pushinteger(cov, lua_tointeger(cov, -1) + lua_tointeger(L, -1));
			lua_setfield(cov, -3, sec);
			lua_pop(cov, 1);
			lua_pop(L, 1);
		}
		lua_close(L);
		fflush(stdout);
	}
	printf("1..%lld\n", (long long)number);
	printf("# %lld passed, %lld failed, %lld skipped, %zu file(s)\n", (long long)passed,
	       (long long)failed, (long long)skipped, f.n);
	if (nfilters)
		printf("# %lld test(s) filtered out\n", (long long)filtered);
	if (expect)
		printf("# %lld known difference(s) of the outside device (--expect %s)\n",
		       (long long)known, expect);
	if (coverage) {
		/* test.coverage_report(counts): named sections sorted numerically,
		 * then the normative sections of implemented areas none names */
		const char *dir = lvq_libdir();

		luaL_openlibs(cov);
		lua_getglobal(cov, "package");
		lua_pushfstring(cov, "%s/?.lua", dir ? dir : ".");
		lua_setfield(cov, -2, "path");
		lua_pop(cov, 1);
		if (luaL_loadstring(cov, "return require('test').coverage_report(...)") != LUA_OK) {
			lua_pop(cov, 1);
		} else {
			lua_pushvalue(cov, 1);
			if (lua_pcall(cov, 1, 0, 0) != LUA_OK) {
				fprintf(stderr, "vqsim: --coverage: %s\n", lua_tostring(cov, -1));
				lua_pop(cov, 1);
			}
		}
	}
	lua_close(cov);
	if (rc == 0)
		rc = failed || number == 0 ? 1 : 0;
	if (number == 0)
		fprintf(stderr, "vqsim: --test: no tests found\n");
done:
	for (size_t i = 0; i < f.n; i++)
		free(f.v[i]);
	free(f.v);
	return rc;
}
