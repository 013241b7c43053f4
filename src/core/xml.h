/* xml.h - reading the XML answers of AWS services (S3, Route 53) with
 * libxml2: one safe parse and the few lookups every parser needs.
 * Elements are matched on their local name (the answers carry a default
 * namespace). */
#ifndef RV_XML_H
#define RV_XML_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

/* No network, no entity expansion, no DTD, no messages on stderr: an
 * answer is data.  NULL for an empty, oversized (> max) or malformed one;
 * `name` only names the document for libxml2.  Free with xmlFreeDoc. */
xmlDocPtr rv_xml_parse(const char *body, size_t len, size_t max, const char *name);
bool rv_xml_is(const xmlNode *n, const char *name);
/* The first child element `name` of `n`, or NULL. */
xmlNode *rv_xml_child(const xmlNode *n, const char *name);
/* Its text copied into `out` (cut to fit); false when there is no such
 * child (`out` is then ""). */
bool rv_xml_child_text(const xmlNode *n, const char *name, char *out, size_t outlen);

#endif
