/* pci_quirk.c - a virtio-pci function that presents unusual or hostile
 * identification and capabilities, so that a driver's probe can be tested
 * against what spec 4.1.2.2 and 4.1.4.1 ask of it: other vendor and device
 * ids, a transitional id, capabilities with a reserved cfg_type or BAR,
 * duplicates, an over-long cap_len, structures placed outside the BAR, a
 * structure missing from the list. Only config space changes.
 */
#include "pci_internal.h"

#define CAP_WALK_MAX 48 /* as a driver's walk: longer is a loop */

void vq_pci_get_ids(const struct vq_pci *t, struct vq_pci_ids *ids)
{
	ids->vendor = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_VENDOR, 2);
	ids->device = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_DEVICE, 2);
	ids->subsys_vendor = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_SUBSYS_VENDOR, 2);
	ids->subsys = (uint16_t)vq_pci_get(t->cfg + VQ_PCI_SUBSYS, 2);
	ids->revision = t->cfg[VQ_PCI_REVISION];
}

void vq_pci_quirk_ids(struct vq_pci *t, const struct vq_pci_ids *ids)
{
	vq_pci_put(t->cfg + VQ_PCI_VENDOR, 2, ids->vendor);
	vq_pci_put(t->cfg + VQ_PCI_DEVICE, 2, ids->device);
	vq_pci_put(t->cfg + VQ_PCI_SUBSYS_VENDOR, 2, ids->subsys_vendor);
	vq_pci_put(t->cfg + VQ_PCI_SUBSYS, 2, ids->subsys);
	t->cfg[VQ_PCI_REVISION] = ids->revision;
	vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
		 "pci quirk: ids %04x:%04x subsystem %04x:%04x revision %u", ids->vendor,
		 ids->device, ids->subsys_vendor, ids->subsys, ids->revision);
}

/* The list's last capability (0: the list is empty). */
static unsigned list_tail(const struct vq_pci *t)
{
	unsigned at = t->cfg[VQ_PCI_CAP_PTR] & 0xfcu, last = 0;

	for (unsigned n = 0; at && n < CAP_WALK_MAX; n++) {
		last = at;
		at = t->cfg[at + 1] & 0xfcu;
	}
	return last;
}

int vq_pci_quirk_add_cap(struct vq_pci *t, const struct vq_pci_cap_quirk *c)
{
	unsigned at, room, len, tail;
	uint8_t *p;

	if (!t || !c)
		return -VQ_E_INVAL;
	len = c->cap_len ? c->cap_len : c->type == VQ_PCI_CAP_NOTIFY_CFG ? 20 : 16;
	room = (len < 16 ? 16 : len + 3) & ~3u; /* the fields are written whatever cap_len says */
	at = t->quirk_next < VQ_PCI_QUIRK_FIRST ? VQ_PCI_QUIRK_FIRST : t->quirk_next;
	if (at + room > VQ_PCI_CFG_SIZE)
		return -VQ_E_NOSPC;
	t->quirk_next = (uint8_t)((at + room) & 0xff);
	p = t->cfg + at;
	for (unsigned i = 16; i < room; i++)
		p[i] = 0xff;
	p[0] = c->vndr ? c->vndr : VQ_PCI_CAP_ID_VNDR;
	p[2] = (uint8_t)len;
	p[3] = c->type;
	p[4] = c->bar;
	p[5] = c->id;
	p[6] = p[7] = 0;
	vq_pci_put(p + 8, 4, c->offset);
	vq_pci_put(p + 12, 4, c->length);
	if (room >= 20)
		vq_pci_put(p + 16, 4, c->extra);
	tail = c->last ? list_tail(t) : 0;
	if (tail) {
		p[1] = 0;
		t->cfg[tail + 1] = (uint8_t)at;
	} else {
		p[1] = t->cfg[VQ_PCI_CAP_PTR];
		t->cfg[VQ_PCI_CAP_PTR] = (uint8_t)at;
	}
	vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
		 "pci quirk: capability 0x%02x at 0x%02x (%s): cap_len %u cfg_type %u bar %u "
		 "offset 0x%x length 0x%x",
		 p[0], at, tail ? "last" : "first", len, c->type, c->bar, c->offset, c->length);
	return (int)at;
}

int vq_pci_quirk_unlink_cap(struct vq_pci *t, unsigned at)
{
	unsigned link = VQ_PCI_CAP_PTR, cur = t->cfg[VQ_PCI_CAP_PTR] & 0xfcu;

	for (unsigned n = 0; cur && n < CAP_WALK_MAX; n++) {
		if (cur == at) {
			t->cfg[link] = t->cfg[cur + 1];
			vq_trace(t->tracer, VQ_EV_REG, t->dev->name, -1,
				 "pci quirk: capability at 0x%02x taken off the list", at);
			return 0;
		}
		link = cur + 1;
		cur = t->cfg[cur + 1] & 0xfcu;
	}
	return -VQ_E_INVAL;
}
