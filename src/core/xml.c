/* xml.c - the safe parse and lookups of AWS XML answers (see xml.h). */
#include "core/xml.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

xmlDocPtr rv_xml_parse(const char *body, size_t len, size_t max, const char *name)
{
	if (!body || !len || len > max || len > (size_t)0x7fffffff)
		return NULL;
	return xmlReadMemory(body, (int)len, name, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

bool rv_xml_is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

xmlNode *rv_xml_child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (rv_xml_is(c, name))
			return c;
	return NULL;
}

bool rv_xml_child_text(const xmlNode *n, const char *name, char *out, size_t outlen)
{
	xmlNode *c = rv_xml_child(n, name);
	xmlChar *t;

	if (outlen)
		out[0] = '\0';
	if (!c)
		return false;
	t = xmlNodeGetContent(c);
	if (t && outlen)
		snprintf(out, outlen, "%s", (const char *)t);
	xmlFree(t);
	return true;
}
