/* cmd_dns.c - revenant dns show | switch --to SITE (dns/dns.h does the
 * work; this parses, calls and prints). */
#include "cli/cli.h"
#include "core/config.h"
#include "dns/dns.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: revenant [-c FILE] dns show [--json]\n"
		   "       revenant [-c FILE] dns switch --to SITE [--dry-run] [--json]\n"
		   "\n"
		   "  show     what the zone's primary answers now for each name in dns.names,\n"
		   "           and which site's target that is\n"
		   "  switch   point every name at SITE's target (dns.targets): a compare-and-\n"
		   "           swap from what was read, verified at the primary; a name that\n"
		   "           points at no site's target, or that external-dns owns, is\n"
		   "           refused and left alone.  --dry-run reads and decides only.\n"
		   "\n"
		   "Exit codes: 0 done, 2 configuration, 3 server unreachable, 4 key refused,\n"
		   "6 the record changed behind revenant's back (nothing was changed).\n"
		   "The dns: section: revenant.example.yml and docs/OPERATIONS.md.\n");
}

static json_t *values_json(const struct rv_dns_values *v)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < v->n; i++)
		json_array_append_new(a, json_string(v->v[i]));
	return a;
}

static void print_show(const struct rv_dns_report *r, size_t n, bool json)
{
	json_t *a = json ? json_array() : NULL;

	for (size_t i = 0; i < n; i++) {
		char v[512];

		if (r[i].rc)
			continue;
		rv_dns_values_str(&r[i].answer.values, v, sizeof(v));
		if (a) {
			json_t *o =
			    json_pack("{s:s, s:s, s:o, s:s?, s:b, s:b}", "name", r[i].rec.name,
				      "type", rv_dns_type_name(r[i].rec.type), "values",
				      values_json(&r[i].answer.values), "site",
				      r[i].site[0] ? r[i].site : NULL, "exists", r[i].answer.exists,
				      "external_dns", r[i].answer.external_dns);
			if (r[i].answer.exists)
				json_object_set_new(o, "ttl", json_integer(r[i].answer.ttl));
			if (r[i].answer.has_serial)
				json_object_set_new(o, "serial", json_integer(r[i].answer.serial));
			if (r[i].answer.unclear[0])
				json_object_set_new(o, "unclear", json_string(r[i].answer.unclear));
			json_array_append_new(a, o);
			continue;
		}
		printf("%s %s %s site=%s%s%s%s\n", r[i].rec.name, rv_dns_type_name(r[i].rec.type),
		       v, r[i].site[0] ? r[i].site : "(none)",
		       r[i].answer.external_dns ? " external-dns=yes" : "",
		       r[i].answer.unclear[0] ? " unclear: " : "", r[i].answer.unclear);
	}
	if (a) {
		char *s = json_dumps(a, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(a);
	}
}

static void print_switch(const struct rv_dns_report *r, size_t n, const char *to, bool dry,
			 bool json)
{
	json_t *a = json ? json_array() : NULL;

	for (size_t i = 0; i < n; i++) {
		const struct rv_dns_switch_result *s = &r[i].sw;
		const char *what = r[i].rc		       ? "failed"
				   : s->changed		       ? "switched"
				   : !strcmp(s->from_site, to) ? "unchanged"
							       : "would switch";
		char b[512], f[512];

		if (dry && !r[i].rc && strcmp(s->from_site, to))
			what = "would switch";
		rv_dns_values_str(&s->before, b, sizeof(b));
		rv_dns_values_str(&s->after, f, sizeof(f));
		if (a) {
			json_t *o = json_pack(
			    "{s:s, s:s, s:s, s:s, s:o, s:o}", "name", r[i].rec.name, "result", what,
			    "from_site", s->from_site, "to_site", to, "before",
			    values_json(&s->before), "after", values_json(&s->after));
			if (s->changed)
				json_object_set_new(o, "ms", json_integer(s->change.ms));
			json_array_append_new(a, o);
			continue;
		}
		if (s->changed)
			printf("%s: %s %s -> %s (%s -> %s) in %lld ms\n", r[i].rec.name, what,
			       s->from_site, to, b, f, (long long)s->change.ms);
		else if (!r[i].rc)
			printf("%s: %s (%s is at %s: %s)\n", r[i].rec.name, what, r[i].rec.name,
			       s->from_site[0] ? s->from_site : "no site", b);
	}
	if (a) {
		char *s = json_dumps(a, JSON_INDENT(2));
		puts(s);
		free(s);
		json_decref(a);
	}
}

int rv_cmd_dns(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'}, {"dry-run", no_argument, NULL, 'n'},
	    {"json", no_argument, NULL, 'j'},	  {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	struct rv_config *cfg = NULL;
	struct rv_dns_report *rep = NULL;
	const char *sub, *to = NULL;
	bool dry = false, json = false, show;
	size_t n = 0;
	int c, rc;

	if (argc < 2 || rv_cli_wants_help(2, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? rv_error(RV_EUSAGE, "dns: give a subcommand: show or switch") : 0;
	}
	sub = argv[1];
	show = !strcmp(sub, "show");
	if (!show && strcmp(sub, "switch"))
		return rv_error(RV_EUSAGE, "dns: unknown subcommand '%s' (use show or switch)",
				sub);
	argc--;
	argv++;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			to = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'j':
			json = true;
			break;
		case 'c':
			cli->config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return rv_cli_bad_option("dns", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return rv_error(RV_EUSAGE, "dns %s: unexpected argument '%s'", sub, argv[optind]);
	if (!show && !to)
		return rv_error(RV_EUSAGE, "dns switch needs --to SITE (see revenant dns --help)");
	if (show && (to || dry))
		return rv_error(RV_EUSAGE, "dns show takes no --to or --dry-run");
	if ((rc = rv_cli_load_config(cli, true, &cfg)))
		return rc;
	if (show) {
		rc = rv_dns_show_all(cfg, &rep, &n);
		print_show(rep, n, json);
	} else {
		rc = rv_dns_switch_all(cfg, to, dry, &rep, &n);
		print_switch(rep, n, to, dry, json);
	}
	free(rep);
	rv_config_free(cfg);
	return rc;
}
